// Command-line flags shared by the examples: `--name N`.

/** The integer after `flag` in argv, or `def`; exits with a message when it is not one. */
export function argInt(flag: string, def: number): number {
  const i = process.argv.indexOf(flag);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    console.error(`${flag} needs a non-negative integer (got ${process.argv[i + 1] ?? 'nothing'})`);
    process.exit(2);
  }
  return v;
}
