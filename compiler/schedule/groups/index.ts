/**
 * The group table: every kind of kernel group the fusion pass can produce, mapped to the
 * module that emits its forward (inference and training) and backward kernels. A group kind
 * is one module here plus its line below: the mapped type makes a kind without a module (or
 * a module for no kind) a compile error, and the drivers (plan.ts, train-plan.ts) dispatch
 * through this table only.
 */
import type { GroupModule } from '../context.js';
import { attention, type AttentionGroup } from './attention.js';
import { dropout, type DropoutGroup } from './dropout.js';
import { activation, type ActivationGroup, add, type AddGroup, glu, type GluGroup } from './elementwise.js';
import { embed, type EmbedGroup } from './embed.js';
import { linear, type LinearGroup } from './linear.js';
import { moe, type MoeGroup } from './moe.js';
import { residualNorm, type ResidualNormGroup } from './residual-norm.js';
import { rope, type RopeGroup } from './rope.js';
import { scale, type ScaleGroup } from './scale.js';
import { softmaxXent, type SoftmaxXentGroup } from './softmax-xent.js';
import { takeFirst, type TakeFirstGroup } from './take-first.js';

/** A fused kernel group, as the fusion pass (fuse.ts) produces them. */
export type Group =
  | EmbedGroup
  | ResidualNormGroup
  | LinearGroup
  | GluGroup
  | ActivationGroup
  | AddGroup
  | RopeGroup
  | AttentionGroup
  | SoftmaxXentGroup
  | DropoutGroup
  | MoeGroup
  | TakeFirstGroup
  | ScaleGroup;

export type GroupKind = Group['kind'];

type GroupTable = { readonly [K in GroupKind]: GroupModule<Extract<Group, { kind: K }>, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- each module saves its own type

export const GROUPS: GroupTable = {
  embed,
  residual_norm: residualNorm,
  linear,
  glu,
  activation,
  add,
  rope,
  attention,
  softmax_xent: softmaxXent,
  dropout,
  moe,
  take_first: takeFirst,
  scale,
};

/** The module of g's kind, typed for g. */
export function groupModule<G extends Group>(g: G): GroupModule<G, unknown> {
  return GROUPS[g.kind] as unknown as GroupModule<G, unknown>;
}

export type {
  AttentionGroup,
  ActivationGroup,
  AddGroup,
  EmbedGroup,
  GluGroup,
  LinearGroup,
  ResidualNormGroup,
  RopeGroup,
  SoftmaxXentGroup,
  DropoutGroup,
  MoeGroup,
  TakeFirstGroup,
  ScaleGroup,
};
export type { NormKind } from './residual-norm.js';
