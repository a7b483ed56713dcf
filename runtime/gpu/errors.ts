/// <reference types="@webgpu/types" />
/**
 * The two ways a WebGPU job can fail for reasons outside the program: there is no usable
 * adapter/device (GpuUnavailableError), or the device went away mid-job (DeviceLostError).
 * Both carry a message that says what is missing and what to do.
 */

/** What to do on a GPU-less Linux machine; quoted in every "no adapter" message. */
export const SETUP_HINT =
  "run `bash scripts/setup-webgpu.sh` (in the mspec repository) to install Mesa's software Vulkan driver (lavapipe) " +
  'on a GPU-less Linux machine (as root; it does nothing if an adapter already works)';

export type GpuUnavailableReason =
  | 'no-webgpu' // neither navigator.gpu nor the npm `webgpu` package
  | 'no-adapter' // WebGPU exists but requestAdapter() found nothing
  | 'missing-feature'
  | 'limit-too-small'
  | 'device-request-failed';

export interface GpuUnavailableDetails {
  reason: GpuUnavailableReason;
  /** The feature or limit that is missing / too small. */
  name?: string;
  /** What the adapter has (limits only). */
  have?: number;
  /** What the caller needs (limits only). */
  need?: number;
  cause?: unknown;
}

export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
  readonly reason: GpuUnavailableReason;
  /** The feature or limit at fault, when there is one. */
  readonly limit: string | undefined;
  readonly have: number | undefined;
  readonly need: number | undefined;

  constructor(message: string, details: GpuUnavailableDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = details.reason;
    this.limit = details.name;
    this.have = details.have;
    this.need = details.need;
  }
}

export class DeviceLostError extends Error {
  override readonly name = 'DeviceLostError';
  /** 'destroyed' after release(), otherwise 'unknown' (driver crash, out of memory, ...). */
  readonly reason: string;

  constructor(what: string, info: { reason: string; message: string }) {
    const why =
      info.reason === 'destroyed'
        ? 'the device was released (destroyed) while this was still pending'
        : `the device was lost (${info.reason}): ${info.message || 'no message from the driver'}`;
    super(`${what} failed: ${why}. Acquire a new device to continue.`);
    this.reason = info.reason;
  }
}
