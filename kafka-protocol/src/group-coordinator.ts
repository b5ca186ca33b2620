/**
 * Consumer-group membership, in memory: joins, generations, the leader's assignment, heartbeats and
 * session timeouts, following Kafka's group state machine (Empty, PreparingRebalance,
 * CompletingRebalance, Stable). Committed offsets are not here: they live in the event log.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@lambda/core';
import { ErrorCode, type ErrorCodeValue } from './error-codes.js';

export interface GroupCoordinatorOptions {
  logger: Logger;
  /**
   * How long a rebalance of an empty group waits for more members before completing (Kafka's
   * group.initial.rebalance.delay.ms), so consumers starting together get one generation. Default 100 ms.
   */
  initialRebalanceDelayMs?: number;
  /** How often expired sessions are looked for. Default 250 ms. */
  sessionCheckIntervalMs?: number;
}

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Array<{ name: string; metadata: Buffer }>;
}

export interface JoinResult {
  errorCode: ErrorCodeValue;
  generationId: number;
  protocolName: string;
  leaderId: string;
  memberId: string;
  /** Filled for the leader only: every member and its metadata for the chosen protocol. */
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: ErrorCodeValue;
  assignment: Buffer;
}

export interface GroupDescription {
  groupId: string;
  state: 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';
  protocolType: string;
  protocolName: string;
  members: Array<{ memberId: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }>;
}

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: Array<{ name: string; metadata: Buffer }>;
  assignment: Buffer;
  lastSeen: number;
  pendingJoin?: (result: JoinResult) => void;
  pendingSync?: (result: SyncResult) => void;
}

interface Group {
  groupId: string;
  state: 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  members: Map<string, Member>;
  rebalanceTimer?: NodeJS.Timeout;
  /** An empty group's first rebalance completes no earlier than this. */
  completeNotBefore: number;
}

const MIN_SESSION_TIMEOUT_MS = 100;
const MAX_SESSION_TIMEOUT_MS = 30 * 60 * 1000;
const EMPTY = Buffer.alloc(0);

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly sessionCheck: NodeJS.Timeout;
  private readonly logger: Logger;
  private readonly initialRebalanceDelayMs: number;
  private closed = false;

  constructor(options: GroupCoordinatorOptions) {
    this.logger = options.logger;
    this.initialRebalanceDelayMs = options.initialRebalanceDelayMs ?? 100;
    this.sessionCheck = setInterval(() => this.expireSessions(), options.sessionCheckIntervalMs ?? 250);
    this.sessionCheck.unref();
  }

  /** Whether this server still coordinates groups: false once closing, when clients must look elsewhere. */
  get active(): boolean {
    return !this.closed;
  }

  join(request: JoinRequest): Promise<JoinResult> {
    const failed = (errorCode: ErrorCodeValue): Promise<JoinResult> =>
      Promise.resolve({ errorCode, generationId: -1, protocolName: '', leaderId: '', memberId: request.memberId, members: [] });
    if (this.closed) return failed(ErrorCode.NOT_COORDINATOR);
    if (request.groupId === '') return failed(ErrorCode.INVALID_GROUP_ID);
    if (request.sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS || request.sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS) {
      return failed(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const group = this.group(request.groupId);
    if (request.protocols.length === 0) return failed(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (group.members.size > 0) {
      const others = [...group.members.values()].filter((member) => member.memberId !== request.memberId);
      const sharesProtocol = request.protocols.some((protocol) => others.every((member) => member.protocols.some((own) => own.name === protocol.name)));
      if (group.protocolType !== request.protocolType || !sharesProtocol) return failed(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    let member: Member | undefined;
    if (request.memberId === '') {
      member = {
        memberId: `${request.clientId || 'member'}-${randomUUID()}`,
        groupInstanceId: request.groupInstanceId,
        clientId: request.clientId,
        clientHost: request.clientHost,
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        protocols: request.protocols,
        assignment: EMPTY,
        lastSeen: Date.now(),
      };
      group.members.set(member.memberId, member);
      this.logger.debug({ group: group.groupId, member: member.memberId }, 'member joined');
    } else {
      member = group.members.get(request.memberId);
      if (member === undefined) return failed(ErrorCode.UNKNOWN_MEMBER_ID);
      member.protocols = request.protocols;
      member.sessionTimeoutMs = request.sessionTimeoutMs;
      member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
      member.lastSeen = Date.now();
    }
    group.protocolType = request.protocolType;
    // A timer past 2^31 ms fires at once in Node: a nonsensical timeout is bounded like a session.
    member.rebalanceTimeoutMs = Math.min(Math.max(member.rebalanceTimeoutMs, 0), MAX_SESSION_TIMEOUT_MS);
    const joining = member;
    const result = new Promise<JoinResult>((resolve) => {
      joining.pendingJoin?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, generationId: -1, protocolName: '', leaderId: '', memberId: joining.memberId, members: [] });
      joining.pendingJoin = resolve;
    });
    this.prepareRebalance(group);
    this.tryCompleteJoin(group);
    return result;
  }

  sync(groupId: string, generationId: number, memberId: string, assignments: ReadonlyMap<string, Buffer>): Promise<SyncResult> {
    const failed = (errorCode: ErrorCodeValue): Promise<SyncResult> => Promise.resolve({ errorCode, assignment: EMPTY });
    if (this.closed) return failed(ErrorCode.NOT_COORDINATOR);
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return failed(ErrorCode.UNKNOWN_MEMBER_ID);
    if (generationId !== group.generationId) return failed(ErrorCode.ILLEGAL_GENERATION);
    if (group.state === 'PreparingRebalance') return failed(ErrorCode.REBALANCE_IN_PROGRESS);
    member.lastSeen = Date.now();
    if (group.state === 'Stable') return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: member.assignment });
    const result = new Promise<SyncResult>((resolve) => {
      member.pendingSync = resolve;
    });
    if (memberId === group.leaderId) {
      for (const each of group.members.values()) each.assignment = assignments.get(each.memberId) ?? EMPTY;
      group.state = 'Stable';
      this.logger.info({ group: groupId, generation: group.generationId, members: group.members.size }, 'group stable');
      for (const each of group.members.values()) {
        each.pendingSync?.({ errorCode: ErrorCode.NONE, assignment: each.assignment });
        each.pendingSync = undefined;
      }
    }
    return result;
  }

  heartbeat(groupId: string, generationId: number, memberId: string): ErrorCodeValue {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    member.lastSeen = Date.now();
    if (group.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  leave(groupId: string, memberId: string): ErrorCodeValue {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    const group = this.groups.get(groupId);
    if (group === undefined || !group.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(group, memberId, 'left');
    return ErrorCode.NONE;
  }

  /** Whether an offset commit from this member and generation may be stored now (Kafka's checks, in its order). */
  checkCommit(groupId: string, generationId: number, memberId: string): ErrorCodeValue {
    if (this.closed) return ErrorCode.NOT_COORDINATOR;
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const group = this.group(groupId);
    // A commit outside any generation (admin tools, manual assignment) is fine while nobody is a member.
    if (generationId < 0 && group.state === 'Empty') return ErrorCode.NONE;
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = group.members.get(memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    member.lastSeen = Date.now();
    return ErrorCode.NONE;
  }

  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    if (group === undefined) return { groupId, state: 'Dead', protocolType: '', protocolName: '', members: [] };
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: group.state === 'Stable' ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        metadata: member.protocols.find((protocol) => protocol.name === group.protocolName)?.metadata ?? EMPTY,
        assignment: member.assignment,
      })),
    };
  }

  list(): Array<{ groupId: string; protocolType: string }> {
    return [...this.groups.values()].map((group) => ({ groupId: group.groupId, protocolType: group.protocolType ?? '' }));
  }

  /** Stops coordinating: waiting joins and syncs are answered NOT_COORDINATOR, as a broker giving up a group does. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sessionCheck);
    for (const group of this.groups.values()) {
      clearTimeout(group.rebalanceTimer);
      for (const member of group.members.values()) {
        member.pendingJoin?.({ errorCode: ErrorCode.NOT_COORDINATOR, generationId: -1, protocolName: '', leaderId: '', memberId: member.memberId, members: [] });
        member.pendingSync?.({ errorCode: ErrorCode.NOT_COORDINATOR, assignment: EMPTY });
        member.pendingJoin = undefined;
        member.pendingSync = undefined;
      }
    }
  }

  private group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { groupId, state: 'Empty', generationId: 0, protocolType: null, protocolName: null, leaderId: null, members: new Map(), completeNotBefore: 0 };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'PreparingRebalance') return;
    if (group.state === 'Empty') group.completeNotBefore = Date.now() + this.initialRebalanceDelayMs;
    group.state = 'PreparingRebalance';
    for (const member of group.members.values()) {
      member.pendingSync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      member.pendingSync = undefined;
    }
    const timeoutMs = Math.max(0, ...[...group.members.values()].map((member) => member.rebalanceTimeoutMs));
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), timeoutMs);
    group.rebalanceTimer.unref();
    this.logger.debug({ group: group.groupId, timeoutMs }, 'preparing rebalance');
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    const everyoneJoined = [...group.members.values()].every((member) => member.pendingJoin !== undefined);
    if (!everyoneJoined) return;
    const wait = group.completeNotBefore - Date.now();
    if (wait > 0) {
      // More members may be starting right now: give them the initial delay to join this generation.
      setTimeout(() => this.tryCompleteJoin(group), wait).unref();
      return;
    }
    this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || this.closed) return;
    clearTimeout(group.rebalanceTimer);
    // Members that did not rejoin within the rebalance timeout are out, as in Kafka.
    for (const member of [...group.members.values()]) {
      if (member.pendingJoin === undefined) {
        group.members.delete(member.memberId);
        this.logger.info({ group: group.groupId, member: member.memberId }, 'member removed: it did not rejoin in time');
      }
    }
    group.generationId++;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.leaderId = null;
      group.protocolName = null;
      return;
    }
    const members = [...group.members.values()];
    const leader = group.leaderId !== null && group.members.has(group.leaderId) ? group.members.get(group.leaderId)! : members[0]!;
    group.leaderId = leader.memberId;
    group.protocolName = leader.protocols.find((protocol) => members.every((member) => member.protocols.some((own) => own.name === protocol.name)))?.name ?? null;
    group.state = 'CompletingRebalance';
    const now = Date.now();
    for (const member of members) {
      member.lastSeen = now;
      member.pendingJoin!({
        errorCode: ErrorCode.NONE,
        generationId: group.generationId,
        protocolName: group.protocolName ?? '',
        leaderId: leader.memberId,
        memberId: member.memberId,
        members:
          member === leader
            ? members.map((each) => ({
                memberId: each.memberId,
                groupInstanceId: each.groupInstanceId,
                metadata: each.protocols.find((protocol) => protocol.name === group.protocolName)?.metadata ?? EMPTY,
              }))
            : [],
      });
      member.pendingJoin = undefined;
    }
    this.logger.debug({ group: group.groupId, generation: group.generationId, members: members.length }, 'rebalance completed');
  }

  private removeMember(group: Group, memberId: string, reason: string): void {
    const member = group.members.get(memberId)!;
    group.members.delete(memberId);
    this.logger.info({ group: group.groupId, member: memberId, reason }, 'member removed');
    member.pendingJoin?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] });
    member.pendingSync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (group.members.size === 0) {
      clearTimeout(group.rebalanceTimer);
      group.state = 'Empty';
      group.generationId++;
      group.leaderId = null;
      group.protocolName = null;
      return;
    }
    this.prepareRebalance(group);
    this.tryCompleteJoin(group);
  }

  private expireSessions(): void {
    const now = Date.now();
    for (const group of this.groups.values()) {
      for (const member of [...group.members.values()]) {
        // A member waiting in JoinGroup is alive by definition; its session restarts when the join completes.
        if (member.pendingJoin === undefined && now - member.lastSeen > member.sessionTimeoutMs) {
          this.removeMember(group, member.memberId, `session timeout of ${member.sessionTimeoutMs} ms expired`);
        }
      }
    }
  }
}
