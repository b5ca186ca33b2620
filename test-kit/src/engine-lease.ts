/**
 * Who may stop the shared engines. Test files that use the engines take a *shared* lease; a test that
 * stops one (a fault test) takes the *exclusive* lease, which waits until no shared lease is held and
 * keeps new ones waiting, so no test here ever sees an outage it did not inject. Vitest runs test files in
 * parallel processes, hence files in a directory of the OS temp dir, one per engine set: a lease is a
 * file named after its holder's pid, and a holder that died no longer counts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from 'vitest';

const POLL_MS = 250;
const EXCLUSIVE = 'exclusive';

/** The lease directory of the engines the environment points at. */
function leaseDirectory(): string {
  const engines = `${process.env.KAFKA_BROKERS ?? ''} ${process.env.CASSANDRA_CONTACT_POINTS ?? ''}`;
  return join(tmpdir(), `lambda-engine-leases-${createHash('sha256').update(engines).digest('hex').slice(0, 12)}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Live shared leases other than `mine`; dead holders' files are removed. */
async function sharedHolders(directory: string, mine?: string): Promise<string[]> {
  const live: string[] = [];
  for (const name of await readdir(directory)) {
    if (!name.startsWith('shared-') || name === mine) continue;
    if (alive(Number(name.split('-')[1]))) live.push(name);
    else await rm(join(directory, name), { force: true });
  }
  return live;
}

/** The pid holding the exclusive lease, if a live process does (a dead holder's lease is removed). */
async function exclusiveHolder(directory: string): Promise<number | undefined> {
  const pid = Number(await readFile(join(directory, EXCLUSIVE), 'utf8').catch(() => ''));
  if (!pid) return undefined;
  if (alive(pid)) return pid;
  await rm(join(directory, EXCLUSIVE), { force: true });
  return undefined;
}

/** A shared lease: resolves with its release once no test holds (or waits for) the exclusive one. */
export async function shareEngines(timeoutMs = 240_000): Promise<() => Promise<void>> {
  const directory = leaseDirectory();
  await mkdir(directory, { recursive: true });
  const file = join(directory, `shared-${process.pid}-${randomUUID()}`);
  for (const deadline = Date.now() + timeoutMs; ; await sleep(POLL_MS)) {
    // Announce first, then look: an exclusive holder that looked before this file existed is seen here.
    await writeFile(file, '');
    const holder = await exclusiveHolder(directory);
    if (holder === undefined) return () => rm(file, { force: true });
    await rm(file, { force: true });
    if (Date.now() > deadline) throw new Error(`the engines stayed taken by a fault test (pid ${holder}) for ${timeoutMs / 1000} s`);
  }
}

/** The exclusive lease: resolves with its release once no other test uses the engines. */
export async function takeEnginesExclusively(timeoutMs = 240_000): Promise<() => Promise<void>> {
  const directory = leaseDirectory();
  await mkdir(directory, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await writeFile(join(directory, EXCLUSIVE), String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await exclusiveHolder(directory);
    if (Date.now() > deadline) throw new Error(`another fault test kept the engines for ${timeoutMs / 1000} s`);
    await sleep(POLL_MS);
  }
  const release = () => rm(join(directory, EXCLUSIVE), { force: true });
  // Taken: new shared leases now wait, and the ones held drain.
  for (;;) {
    const holders = await sharedHolders(directory);
    if (holders.length === 0) return release;
    if (Date.now() > deadline) {
      await release();
      throw new Error(`other tests kept using the engines for ${timeoutMs / 1000} s: ${holders.join(', ')}`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * Holds a shared lease for the whole test file (unless it is skipped): a fault test elsewhere may stop
 * the engines, but not while this file uses them.
 */
export function useSharedEngines(skipReason: string | undefined): void {
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (!skipReason) release = await shareEngines();
  }, 300_000);
  afterAll(async () => {
    await release?.();
  });
}
