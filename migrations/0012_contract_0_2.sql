-- What racelab:source 0.2 adds (wit/v0.2/source.wit; docs/decisions.md, "Contract 0.2").
--
-- Entries gain the ids analysts join on (KRA jkNo/trNo keep their leading zeros, so text), the
-- horse's or racer's age and sex. Races gain a status where the source says: a later
-- `scheduled` never overwrites `run`, and `cancelled` wins over both (host/src/store/write.rs).
-- Rows written before this migration, or by a 0.1 plugin, have NULLs: not said, not false.
ALTER TABLE races
    ADD COLUMN status text CHECK (status IN ('scheduled', 'run', 'cancelled'));

ALTER TABLE entries
    ADD COLUMN jockey_id  text,
    ADD COLUMN trainer_id text,
    ADD COLUMN age        smallint CHECK (age BETWEEN 1 AND 99),
    ADD COLUMN sex        text CHECK (sex IN ('male', 'female', 'gelding'));

-- The known shapes of each source's datasets: every field a plugin reported as unmapped (the
-- response has it, the plugin does not know it) or missing (the plugin expects it, no item had
-- it), with when it was first and last seen and on how many pages. A row that appears is a
-- shape change, and the host raises one alert for the fields that appeared together; a field
-- seen again only moves last_seen_at and pages (host/src/store/drift.rs).
CREATE TABLE source_drift (
    source         text        NOT NULL,
    dataset        text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('unmapped', 'missing')),
    field          text        NOT NULL,
    -- The plugin version that first reported it (`name version`).
    first_plugin   text        NOT NULL,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    pages          bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (source, dataset, kind, field)
);
