-- The unchanged-skip's latest values as one row per race and pool, with arrays, instead of one
-- row per selection. With every quote of a poll changed (its worst case), the store read and
-- updated one odds_latest row per quote, ~1,400 a job, and wrote ~5× fewer quotes a second than
-- with the skip off; as at most eight rows a race it reads and rewrites a few arrays instead
-- (BENCHMARKS.md, "The unchanged-skip's latest values per pool"; docs/decisions.md).
--
-- `odds_latest` stays as a view with its old columns, one row per selection, so per-selection
-- queries keep working unchanged; it is read-only.

CREATE TABLE odds_latest_polls (
    track        text      NOT NULL,
    race_date    date      NOT NULL,
    race_number  smallint  NOT NULL,
    pool         pool_code NOT NULL,
    -- As in odds_polls: one sub-array of runner numbers per selection, all of the pool's width,
    -- sorted by selection; here every selection the race's pool has had a stored snapshot of.
    selections   smallint[] NOT NULL
                 CHECK (array_ndims(selections) = 2 AND array_length(selections, 2) BETWEEN 1 AND 3),
    -- prices[i] is the newest stored price of selections[i]; NULL for the display cap.
    prices       double precision[] NOT NULL
                 CHECK (array_ndims(prices) = 1 AND cardinality(prices) = array_length(selections, 1)),
    -- captured_at[i] is the capture prices[i] was stored from (selections move at different
    -- polls: only the changed ones are stored).
    captured_at  timestamptz[] NOT NULL
                 CHECK (array_ndims(captured_at) = 1 AND cardinality(captured_at) = cardinality(prices)),
    CHECK (1.0 <= ALL (prices)),
    PRIMARY KEY (track, race_date, race_number, pool)
)
-- Every poll with a change rewrites the pool's row; room on the page keeps the new version
-- there without a new index entry (a HOT update). The big pools' arrays (TRI, TLA, XLA: ~1,300
-- selections with 11 runners) are TOASTed whatever the fillfactor, so the heap rows stay small.
WITH (fillfactor = 50);

-- The per-selection rows, grouped by race and pool. Sorting by selection puts each price and
-- capture beside its selection (the old key includes the selection: no ties).
INSERT INTO odds_latest_polls (track, race_date, race_number, pool, selections, prices, captured_at)
SELECT track, race_date, race_number, pool,
       array_agg(selection ORDER BY selection),
       array_agg(CASE WHEN capped THEN NULL ELSE price END ORDER BY selection),
       array_agg(captured_at ORDER BY selection)
FROM odds_latest
GROUP BY track, race_date, race_number, pool;

DROP TABLE odds_latest;

-- The old shape, one row per selection, as odds_snapshots over odds_polls (0005), whose notes on
-- detoasting once (`d`) and on array_remove apply here too.
CREATE VIEW odds_latest AS
SELECT l.track, l.race_date, l.race_number, l.pool,
       array_remove(ARRAY[d.s[i][1], d.s[i][2], d.s[i][3]], NULL) AS selection,
       d.pr[i] AS price,
       d.pr[i] IS NULL AS capped,
       d.at[i] AS captured_at
FROM odds_latest_polls l
CROSS JOIN LATERAL (SELECT array_cat(l.selections, '{}') AS s, array_cat(l.prices, '{}') AS pr,
                           array_cat(l.captured_at, '{}') AS at OFFSET 0) AS d
CROSS JOIN LATERAL generate_subscripts(d.pr, 1) AS i;

COMMENT ON VIEW odds_latest IS
    'The newest stored odds one row per selection, from odds_latest_polls (one row per race and pool). Read-only.';
