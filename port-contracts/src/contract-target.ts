/**
 * What a port's contract suite needs from an adapter: a way to open it on an isolated place. The same
 * suite runs against every adapter of the port, so a production adapter passes exactly the tests the
 * embedded one does.
 */
export interface ContractTarget<T> {
  /** The adapter's name in test titles. */
  name: string;
  /** Set when the adapter cannot run here (its server is absent): the suite is skipped with this reason. */
  skipReason?: string | undefined;
  /** Prepares an isolated place (a temp dir, a key prefix) for one test. */
  prepare(): Promise<ContractFixture<T>>;
}

export interface ContractFixture<T> {
  /** Opens an adapter; opening again after closing sees the same data. */
  open(): Promise<T>;
  cleanUp(): Promise<void>;
}

/** The suite title (describeWhenAvailable adds why, when it is skipped). */
export function suiteTitle(port: string, target: ContractTarget<unknown>): string {
  return `${port} contract on ${target.name}`;
}
