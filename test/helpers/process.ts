import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/**
 * Starts a node script that prints `PORT <n>` once it listens (the test backends do), and
 * resolves with the child and its port; rejects if it exits first.
 */
export async function spawnListening(script: string, args: string[], stdio: StdioOptions = ['ignore', 'pipe', 'inherit']): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [script, ...args], { stdio });
  let buffered = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = /PORT (\d+)/.exec(buffered);
      if (match) resolve(Number(match[1]));
    });
  });
  return { child, port };
}
