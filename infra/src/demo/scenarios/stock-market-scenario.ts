/**
 * Stock market: OHLC bars and VWAP per symbol per minute. The view language has min and max but no
 * first/last, so open and close are encoded as in the stock-OHLC example: (ms into the minute) * 1e8 +
 * price in cents; the least code of a minute is its first trade, the greatest its last, both exact
 * integers (below 6e12 < 2^53). VWAP is sum(price * qty) / sum(qty), from two sums. The logic change
 * leaves odd lots (under 100 shares) out of the bars, as exchanges do for the official OHLC.
 */
import type { ViewDefinition } from '@lambda/core';
import { ScenarioGenerator, type Scenario } from './scenario.js';

const TOPIC = 'trades';
const VIEW = 'ohlc_per_minute';
const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI'];
/** Cents stay below this: prices under $1,000,000. */
export const PRICE_CODE = 100_000_000;

const ohlc: ViewDefinition = {
  name: VIEW,
  description: 'Open, high, low, close, volume and VWAP parts per symbol per minute',
  source: TOPIC,
  derive: {
    time_price: `(event_time - floor(event_time / 60000) * 60000) * ${PRICE_CODE} + floor(price * 100 + 0.5)`,
    notional: 'price * qty',
  },
  key: ['symbol'],
  window: { type: 'tumbling', size: '1m' },
  aggregates: {
    open_code: 'min(time_price)',
    high: 'max(price)',
    low: 'min(price)',
    close_code: 'max(time_price)',
    volume: 'sum(qty)',
    notional: 'sum(notional)',
    trades: 'count()',
  },
};

/** A bar's open or close price from its code. */
export function priceOfCode(code: number): number {
  return (code % PRICE_CODE) / 100;
}

class TradeEvents extends ScenarioGenerator {
  private readonly prices = new Map(SYMBOLS.map((symbol, i) => [symbol, 50 + i * 40]));

  protected valid(): { key: string; fields: Record<string, string | number> } {
    const r = this.random;
    const symbol = r.pick(SYMBOLS);
    const price = Math.max(1, Math.round((this.prices.get(symbol)! + (r.next() - 0.5) * 0.6) * 100) / 100);
    this.prices.set(symbol, price);
    // Round lots of 100 mostly; about a third are odd lots.
    const qty = r.next() < 0.35 ? r.integer(1, 99) : r.integer(1, 20) * 100;
    return { key: symbol, fields: { symbol, price, qty } };
  }

  protected malformed(now: number): { key: string | null; value: string } {
    const symbol = this.random.pick(SYMBOLS);
    return this.random.pick([
      { key: symbol, value: JSON.stringify({ symbol, price: 'n/a', qty: 100, ts: now }) },
      { key: symbol, value: JSON.stringify({ symbol, price: 10, qty: 100 }) },
      { key: null, value: 'FIX 4.2|35=D|garbage' },
    ]);
  }
}

export const stockMarketScenario: Scenario = {
  name: 'stocks',
  title: 'Stock market',
  description: 'OHLC bars, volume and VWAP per symbol per minute from trades, a third of them odd lots.',
  topic: TOPIC,
  catalog: {
    sources: [{ topic: TOPIC, eventTimeField: 'ts', fields: { symbol: 'string', price: 'number', qty: 'number' }, partitionKey: 'symbol' }],
    views: [
      ohlc,
      {
        name: 'volume_per_symbol',
        description: 'Shares traded per symbol over all time',
        source: TOPIC,
        key: ['symbol'],
        aggregates: { volume: 'sum(qty)', trades: 'count()' },
      },
    ],
  },
  checkedViews: [VIEW, 'volume_per_symbol'],
  change: {
    view: VIEW,
    description: 'Leave odd lots out of the bars: `filter: "qty >= 100"`',
    definition: { ...ohlc, filter: 'qty >= 100' },
  },
  generator: (options) => new TradeEvents(options),
};
