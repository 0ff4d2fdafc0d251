import pc from 'picocolors';

/**
 * Colours for terminal output. picocolors already honours NO_COLOR and FORCE_COLOR and
 * turns itself off when stdout is not a TTY; `setColor(false)` is for `--no-color`.
 */
let colors = pc.createColors(pc.isColorSupported && !process.env.NO_COLOR);

export function setColor(enabled: boolean): void {
  colors = pc.createColors(enabled);
}

export function color(): ReturnType<typeof pc.createColors> {
  return colors;
}
