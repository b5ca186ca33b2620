import { InvalidArgumentError, type Catalog } from '@lambda/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpeedLayer } from '../src/index.js';
import {
  GROUP,
  PARTITIONS,
  TOPIC,
  URL_VIEW,
  USER_VIEW,
  appendViews,
  committedArray,
  expectedUrlRows,
  expectedUserRows,
  generateViews,
  makeCatalog,
  mergedSliceRows,
  openPlatform,
  type Platform,
} from './helpers.js';

let platform: Platform;
let catalog: Catalog;

beforeEach(async () => {
  platform = await openPlatform('members');
  catalog = makeCatalog();
});

afterEach(async () => {
  await platform.cleanUp();
});

describe('when the speed layer runs as several members of a group', () => {
  it('should fold each partition in exactly one member, and together equal the oracle', async () => {
    const events = generateViews(400, 11);
    await appendViews(platform.log, events);
    const members = await Promise.all(
      [0, 1].map((index) => SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, consumerGroup: GROUP, member: { index, of: 2 } })),
    );

    const stats = await Promise.all(members.map((member) => member.runOnce()));

    // Member i read exactly the records of the partitions p with p mod 2 = i.
    const ends = await platform.log.endOffsets(TOPIC);
    const ownedRecords = (index: number) => ends.filter((_, partition) => partition % 2 === index).reduce((a, b) => a + b, 0);
    expect(stats.map((s) => s.records)).toEqual([ownedRecords(0), ownedRecords(1)]);
    expect(stats[0]!.records + stats[1]!.records).toBe(400);
    for (const view of [URL_VIEW, USER_VIEW]) {
      const slices = await platform.store.listSlices(view);
      expect(new Set(slices.map((slice) => slice.partition))).toEqual(new Set(Array.from({ length: PARTITIONS }, (_, p) => p)));
    }
    const urlView = catalog.views.get(URL_VIEW)!;
    const userView = catalog.views.get(USER_VIEW)!;
    expect(await mergedSliceRows(platform.store, urlView)).toEqual(expectedUrlRows(events));
    expect(await mergedSliceRows(platform.store, userView)).toEqual(expectedUserRows(events));
    // Each member committed only its own partitions, and together the group is at the end.
    expect(await committedArray(platform.log)).toEqual(ends);
    expect(members[0]!.positions(URL_VIEW).filter((_, partition) => partition % 2 === 1).every((position) => position === 0)).toBe(true);
  });

  it('should leave a partition to its member only, even when records keep arriving', async () => {
    const member = await SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, consumerGroup: GROUP, member: { index: 1, of: PARTITIONS } });
    const events = generateViews(120, 12);
    await appendViews(platform.log, events);

    await member.runOnce();

    const ends = await platform.log.endOffsets(TOPIC);
    const committed = await platform.log.committedOffsets(GROUP, TOPIC);
    expect([...committed.keys()]).toEqual([1]);
    expect(committed.get(1)).toBe(ends[1]);
    const expected = expectedUrlRows(events.filter((event) => event.partition === 1));
    expect(await mergedSliceRows(platform.store, catalog.views.get(URL_VIEW)!)).toEqual(expected);
  });

  it('should refuse a place outside the group', async () => {
    for (const member of [{ index: 2, of: 2 }, { index: -1, of: 2 }, { index: 0, of: 0 }, { index: 0.5, of: 2 }]) {
      await expect(SpeedLayer.create({ eventLog: platform.log, viewStore: platform.store, catalog, member })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });
});
