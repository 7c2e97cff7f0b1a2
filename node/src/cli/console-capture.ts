// For tests of the CLI entry points run in-process: what they print, without a Node start-up per command.
// (Imported by *.test.ts only.)

/** Runs `main` with console.log and console.error captured, one entry per call; restores them after. */
export async function captureConsole(
  main: () => Promise<number>,
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    return { code: await main(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}
