/** The APIs this server implements, and the version ranges it implements fully (advertised in ApiVersions). */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  InitProducerId: 22,
  SaslAuthenticate: 36,
} as const;

export type ApiKeyValue = (typeof ApiKey)[keyof typeof ApiKey];

export interface VersionRange {
  min: number;
  max: number;
}

/**
 * Non-flexible versions (no tagged fields) only, except SaslAuthenticate v2 (see FIRST_FLEXIBLE_VERSION);
 * clients negotiate down to them. Produce starts at v3 and Fetch at v4, the first versions carrying v2
 * record batches.
 */
export const SUPPORTED_VERSIONS: ReadonlyMap<number, VersionRange> = new Map([
  [ApiKey.Produce, { min: 3, max: 8 }],
  [ApiKey.Fetch, { min: 4, max: 11 }],
  [ApiKey.ListOffsets, { min: 1, max: 5 }],
  [ApiKey.Metadata, { min: 0, max: 8 }],
  [ApiKey.OffsetCommit, { min: 2, max: 7 }],
  [ApiKey.OffsetFetch, { min: 1, max: 5 }],
  [ApiKey.FindCoordinator, { min: 0, max: 2 }],
  [ApiKey.JoinGroup, { min: 0, max: 5 }],
  [ApiKey.Heartbeat, { min: 0, max: 3 }],
  [ApiKey.LeaveGroup, { min: 0, max: 3 }],
  [ApiKey.SyncGroup, { min: 0, max: 3 }],
  [ApiKey.DescribeGroups, { min: 0, max: 2 }],
  [ApiKey.ListGroups, { min: 0, max: 2 }],
  [ApiKey.SaslHandshake, { min: 0, max: 1 }],
  [ApiKey.ApiVersions, { min: 0, max: 2 }],
  [ApiKey.CreateTopics, { min: 0, max: 4 }],
  [ApiKey.InitProducerId, { min: 0, max: 1 }],
  [ApiKey.SaslAuthenticate, { min: 0, max: 2 }],
]);

/** From these versions on, requests and responses carry tagged fields and compact lengths (KIP-482). */
const FIRST_FLEXIBLE_VERSION: ReadonlyMap<number, number> = new Map([[ApiKey.SaslAuthenticate, 2]]);

export function isFlexible(apiKey: number, apiVersion: number): boolean {
  return apiVersion >= (FIRST_FLEXIBLE_VERSION.get(apiKey) ?? Infinity);
}

export function isSupported(apiKey: number, apiVersion: number): boolean {
  const range = SUPPORTED_VERSIONS.get(apiKey);
  return range !== undefined && apiVersion >= range.min && apiVersion <= range.max;
}

export function apiName(apiKey: number): string {
  return Object.entries(ApiKey).find(([, key]) => key === apiKey)?.[0] ?? `api-${apiKey}`;
}
