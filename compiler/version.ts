/** The one place the mspec version is written (generated files and checkpoints carry it). */
export const MSPEC_VERSION = '0.1.0';
