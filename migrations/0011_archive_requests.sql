-- What a re-parse needs besides the body: the operation the response answered and the request
-- as the plugin planned it, so an archived response can be parsed again by any version of the
-- plugin (host/src/replay/; docs/decisions.md, "The archive keeps the operation and the
-- request"). Both in the stable JSON form of host/src/json.rs; the request never holds the
-- credential (the host adds it only to the URL it sends, and refuses a plugin that sets it).
--
-- NULL for rows archived before this migration: replay skips and counts them.
ALTER TABLE raw_responses
    ADD COLUMN operation jsonb,
    ADD COLUMN request   jsonb;

-- Replay and diff read one source's responses over a range of days, in capture order.
CREATE INDEX raw_responses_by_source ON raw_responses (source, fetched_at, id);
