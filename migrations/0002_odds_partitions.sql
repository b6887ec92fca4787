-- Monthly partitions of odds_snapshots, created ahead of time by the host (and once here, so a
-- fresh database is ready). Boundaries are UTC month starts: a KST race day (races run between
-- roughly 10:00 and 22:00 KST, 01:00–13:00 UTC) never straddles one, so a track-day's odds sit
-- in one partition.
--
-- Returns how many partitions it created. Idempotent, and safe to call from several hosts at
-- once.
CREATE FUNCTION racelab_ensure_odds_partitions(from_month date, months integer)
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
        part := format('odds_snapshots_%s', to_char(month_start, 'YYYY_MM'));
        IF to_regclass(part) IS NULL THEN
            -- Spelled out in UTC so the bounds do not depend on the session's TimeZone.
            lower_bound := to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00';
            upper_bound := to_char(month_start + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00';

            -- CREATE … PARTITION OF would lock the whole table against writers, and would fail
            -- outright if the default partition already holds rows of this month. Instead:
            -- build the table alone, move those rows into it, then ATTACH, which lets writers
            -- of other partitions carry on. ATTACH also creates the partition's indexes.
            EXECUTE format('CREATE TABLE %I (LIKE odds_snapshots INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format(
                'WITH moved AS (DELETE FROM odds_snapshots_default WHERE captured_at >= %L AND captured_at < %L RETURNING *)
                 INSERT INTO %I SELECT * FROM moved',
                lower_bound, upper_bound, part);
            EXECUTE format(
                'ALTER TABLE odds_snapshots ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part, lower_bound, upper_bound);
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;

    RETURN created;
END
$$;

-- This month and the next three, counted in UTC like the boundaries.
SELECT racelab_ensure_odds_partitions((now() AT TIME ZONE 'UTC')::date, 4);
