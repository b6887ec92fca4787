-- Odds as one row per poll: (race, pool, capture) with the poll's selections and prices as
-- arrays, instead of one row per selection. The common read, a track-day or a race of odds,
-- was dominated by moving ~31,000 narrow rows to the client (p95 ~64 ms for a track-day, the
-- server's own share ~19 ms); as ~780 poll rows the same values read in a fraction of that
-- (BENCHMARKS.md, "One track-day of odds with a year loaded"; docs/decisions.md).
--
-- `odds_snapshots` stays as a view with its old columns, one row per selection, so per-selection
-- queries keep working unchanged; it is read-only.

CREATE TABLE odds_polls (
    track        text      NOT NULL,
    race_date    date      NOT NULL,
    race_number  smallint  NOT NULL,
    pool         pool_code NOT NULL,
    captured_at  timestamptz NOT NULL,
    -- One sub-array of runner numbers per selection, all of the pool's width (1 for WIN/PLC,
    -- 2 for QNL/EXA/QPL, 3 for TLA/TRI/XLA): in order for ordered pools, ascending for the
    -- others, as the plugin reports them. Sorted by selection. Only the selections stored by
    -- this poll: with the unchanged-skip on, those that changed since their last stored
    -- snapshot (all of them on the first and the final poll).
    selections   smallint[] NOT NULL
                 CHECK (array_ndims(selections) = 2 AND array_length(selections, 2) BETWEEN 1 AND 3),
    -- prices[i] is the price of selections[i]; NULL exactly when the source shows its display
    -- cap (KRA 9999.9): the true price is unknown and must never be averaged as a number.
    prices       double precision[] NOT NULL
                 CHECK (array_ndims(prices) = 1 AND cardinality(prices) = array_length(selections, 1)),
    CHECK (1.0 <= ALL (prices)),
    -- Leads with the race, so it serves the per-race and the per-track-day reads.
    PRIMARY KEY (track, race_date, race_number, pool, captured_at)
) PARTITION BY RANGE (captured_at);

CREATE TABLE odds_polls_default PARTITION OF odds_polls DEFAULT;

-- As 0002, for odds_polls: same name and signature (the host calls it), same lock, same way of
-- moving rows out of the default partition.
CREATE OR REPLACE FUNCTION racelab_ensure_odds_partitions(from_month date, months integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    month_start date := date_trunc('month', from_month)::date;
    lower_bound text;
    upper_bound text;
    part        text;
    created     integer := 0;
BEGIN
    -- Two hosts creating the same partition would collide on its name; serialise them for the
    -- rest of the caller's transaction.
    PERFORM pg_advisory_xact_lock(hashtext('racelab_ensure_odds_partitions'));

    FOR i IN 1 .. months LOOP
        part := format('odds_polls_%s', to_char(month_start, 'YYYY_MM'));
        IF to_regclass(part) IS NULL THEN
            -- Spelled out in UTC so the bounds do not depend on the session's TimeZone.
            lower_bound := to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00';
            upper_bound := to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00';

            -- CREATE … PARTITION OF would lock the whole table against writers, and would fail
            -- outright if the default partition already holds rows of this month. Instead:
            -- build the table alone, move those rows into it, then ATTACH, which lets writers
            -- of other partitions carry on. ATTACH also creates the partition's indexes.
            EXECUTE format('CREATE TABLE %I (LIKE odds_polls INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', part);
            EXECUTE format(
                'WITH moved AS (DELETE FROM odds_polls_default WHERE captured_at >= %L AND captured_at < %L RETURNING *)
                 INSERT INTO %I SELECT * FROM moved',
                lower_bound, upper_bound, part);
            EXECUTE format(
                'ALTER TABLE odds_polls ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part, lower_bound, upper_bound);
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;

    RETURN created;
END
$$;

-- The months odds_snapshots had partitions for, and as 0002 this month and the next three.
DO $$
DECLARE
    month text;
BEGIN
    FOR month IN
        SELECT substring(c.relname FROM '^odds_snapshots_(\d{4}_\d{2})$')
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'odds_snapshots'::regclass
          AND c.relname ~ '^odds_snapshots_\d{4}_\d{2}$'
    LOOP
        PERFORM racelab_ensure_odds_partitions(to_date(month, 'YYYY_MM'), 1);
    END LOOP;
END
$$;
SELECT racelab_ensure_odds_partitions((now() AT TIME ZONE 'UTC')::date, 4);

-- The stored snapshots, one poll row per race, pool and capture. Sorting by selection puts
-- each price beside its selection (the key includes the selection: no ties).
INSERT INTO odds_polls (track, race_date, race_number, pool, captured_at, selections, prices)
SELECT track, race_date, race_number, pool, captured_at,
       array_agg(selection ORDER BY selection), array_agg(price ORDER BY selection)
FROM odds_snapshots
GROUP BY track, race_date, race_number, pool, captured_at;

DROP TABLE odds_snapshots;

-- The old shape, one row per selection. `s[i][k]` past the pool's width is NULL, which
-- array_remove drops: a WIN row gives {n}, a QNL row {a,b}, a TRI row {a,b,c}. Filters on the
-- poll's columns (track, race_date, race_number, pool, captured_at) reach odds_polls' key.
--
-- `d` detoasts each poll's arrays once: subscripting a stored (TOASTed or compressed) array
-- fetches and decompresses the whole value on every access, which made a track-day through
-- the view take 0.6-1.5 s instead of ~40 ms. array_cat with an empty array returns its input
-- detoasted, and OFFSET 0 keeps the subquery from being flattened into per-element calls.
CREATE VIEW odds_snapshots AS
SELECT p.track, p.race_date, p.race_number, p.pool,
       array_remove(ARRAY[d.s[i][1], d.s[i][2], d.s[i][3]], NULL) AS selection,
       p.captured_at,
       d.pr[i] AS price,
       d.pr[i] IS NULL AS capped
FROM odds_polls p
CROSS JOIN LATERAL (SELECT array_cat(p.selections, '{}') AS s, array_cat(p.prices, '{}') AS pr OFFSET 0) AS d
CROSS JOIN LATERAL generate_subscripts(d.pr, 1) AS i;

COMMENT ON VIEW odds_snapshots IS
    'Odds one row per selection, from odds_polls (one row per race, pool and capture). Read-only.';
