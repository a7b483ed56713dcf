/**
 * The progress bar of `mspec train` on a terminal (cli-progress): one line redrawn in place,
 * with lines such as validation results printed above it. It is a one-bar MultiBar because
 * MultiBar.log() prints above the bar and MultiBar never restores a saved cursor position
 * (SingleBar.stop() does, which lands on the wrong row once the lines above it have scrolled).
 */
import { MultiBar, type SingleBar } from 'cli-progress';

export interface ProgressValues {
  readonly loss: number;
  readonly tokensPerS: number;
  readonly lr: number;
}

export class ProgressBar {
  private readonly multi: MultiBar;
  private readonly bar: SingleBar;

  constructor(out: NodeJS.WriteStream, total: number, first: number) {
    this.multi = new MultiBar({
      stream: out,
      format: 'step {value}/{total} [{bar}] loss {loss} | {tps} tok/s | lr {lr} | ETA {eta_formatted}',
      barCompleteChar: '=',
      barIncompleteChar: '-',
      barsize: 30,
      hideCursor: true,
      // One line, cut to the terminal's width: a wrapped bar cannot be redrawn in place.
      linewrap: false,
      etaBuffer: 20,
      fps: 10,
      autopadding: true,
    });
    this.bar = this.multi.create(total, first, { loss: '—', tps: '—', lr: '—' });
  }

  /** Records a finished step. */
  update(step: number, v: ProgressValues): void {
    this.bar.update(step, { loss: v.loss.toFixed(4), tps: String(Math.round(v.tokensPerS)), lr: v.lr.toExponential(2) });
  }

  /** Prints a line above the bar. */
  line(text: string): void {
    this.multi.log(`${text}\n`);
    this.multi.update();
  }

  /** Draws the final state and moves below the bar. */
  stop(): void {
    this.multi.stop();
  }
}
