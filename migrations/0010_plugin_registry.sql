-- The plugin registry: every installed version of every source plugin, with its bytes, and the
-- history of which version is active. Every host runs the active version of each plugin it
-- serves and follows changes within a second (LISTEN racelab_plugins, plus a periodic re-check).
-- See docs/architecture.md, "The plugin registry".

CREATE TABLE plugin_versions (
    id            bigserial   PRIMARY KEY,
    -- The manifest's name and version: a version is immutable once installed.
    name          text        NOT NULL,
    version       text        NOT NULL,
    -- The racelab:source API version the component exports (e.g. 0.1.0).
    api_version   text        NOT NULL,
    sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    component     bytea       NOT NULL,
    size_bytes    integer     NOT NULL CHECK (size_bytes = octet_length(component)),
    -- The manifest as the component reported it at install.
    manifest      jsonb       NOT NULL,
    installed_by  text        NOT NULL,
    installed_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);

-- Every change of the active version, in order. The active version of a plugin is the one its
-- latest row names; rollback walks back through the rows that were activations (see
-- `plugins::registry`). Rows are never updated or deleted.
CREATE TABLE plugin_activations (
    id            bigserial   PRIMARY KEY,
    name          text        NOT NULL,
    version_id    bigint      NOT NULL REFERENCES plugin_versions (id),
    action        text        NOT NULL CHECK (action IN ('seed', 'activate', 'rollback')),
    activated_by  text        NOT NULL,
    activated_at  timestamptz NOT NULL DEFAULT now(),
    -- An activation that skipped a failing check, and what it skipped.
    forced        boolean     NOT NULL DEFAULT false,
    note          text
);

CREATE INDEX plugin_activations_by_name ON plugin_activations (name, id DESC);

-- The active version of each plugin.
CREATE VIEW plugin_active AS
SELECT DISTINCT ON (a.name)
       a.name, a.version_id, v.version, v.api_version, v.sha256, a.action, a.activated_by, a.activated_at, a.forced
  FROM plugin_activations a
  JOIN plugin_versions v ON v.id = a.version_id
 ORDER BY a.name, a.id DESC;

-- Every host listens: a row here is a new active version, to load within a second. An install
-- is announced too, so hosts can compile the component before it is activated.
CREATE FUNCTION plugin_registry_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('racelab_plugins', TG_ARGV[0] || ' ' || NEW.name);
    RETURN NEW;
END $$;

CREATE TRIGGER plugin_activations_notify AFTER INSERT ON plugin_activations
    FOR EACH ROW EXECUTE FUNCTION plugin_registry_notify('active');
CREATE TRIGGER plugin_versions_notify AFTER INSERT ON plugin_versions
    FOR EACH ROW EXECUTE FUNCTION plugin_registry_notify('installed');
