// What the plan this project replaces would have done with an all-pool odds page: Node's
// JSON.parse and a plain mapping into one board per pool (the race's rows only, 9999.9 as
// capped, 0 as a non-starter). Run beside `cargo bench -p racelab --bench plugins -- "parse
// all-pool"` to compare in the same minutes (BENCHMARKS.md, "Parse speed"):
//
//   node host/benches/node/parse_odds.mjs [tests/fixtures/kra/Dividend_rate_total_all_pools.json]
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'tests/fixtures/kra/Dividend_rate_total_all_pools.json';
const bytes = readFileSync(path);
const LEGS = { WIN: 1, PLC: 1, QNL: 2, EXA: 2, QPL: 2, TLA: 3, TRI: 3 };

function parse(buffer) {
  const page = JSON.parse(buffer.toString('utf8'));
  const items = page.response.body.items.item;
  const boards = new Map();
  for (const item of Array.isArray(items) ? items : [items]) {
    if (item.meet !== '부산경남' || Number(item.rcDate) !== 20250523 || Number(item.rcNo) !== 1) continue;
    const legs = LEGS[item.pool];
    const odds = Number(item.odds);
    if (legs === undefined || !(odds > 0)) continue;
    let board = boards.get(item.pool);
    if (!board) boards.set(item.pool, (board = { selections: [], quotes: [] }));
    const selection = [item.chulNo, item.chulNo2, item.chulNo3].slice(0, legs).map(Number);
    if (item.pool !== 'EXA' && item.pool !== 'TRI') selection.sort((a, b) => a - b);
    board.selections.push(...selection);
    board.quotes.push(odds > 9999.85 ? null : odds);
  }
  return boards;
}

const rows = [...parse(bytes).values()].reduce((n, b) => n + b.quotes.length, 0);
if (rows !== 1397) throw new Error(`expected 1,397 prices, got ${rows}`);
for (let i = 0; i < 500; i++) parse(bytes); // warm-up: let the JIT settle
const times = [];
for (let i = 0; i < 2000; i++) {
  const start = process.hrtime.bigint();
  parse(bytes);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
times.sort((a, b) => a - b);
const at = (q) => times[Math.floor(q * times.length)].toFixed(3);
console.log(`node ${process.version}: ${rows} prices; min ${at(0)} p10 ${at(0.1)} median ${at(0.5)} p90 ${at(0.9)} ms`);
