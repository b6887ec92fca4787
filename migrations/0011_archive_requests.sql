-- What a re-parse needs besides the body: the operation the response answered and the request
-- as the plugin planned it, so an archived response can be parsed again by any version of the
-- plugin (host/src/replay/; docs/decisions.md, "Replay and diff"). Both in the stable JSON form
-- of host/src/json.rs; the request never holds the credential (the host adds it only to the
-- URL it sends, and refuses a plugin that sets it).
--
-- captured_at is the capture time of the job that fetched the response, on the host's clock:
-- the instant the store stamped the job's odds and scratches with, which a replay stamps them
-- with again. fetched_at stays the database's time of receipt (rates and retention read it);
-- with the system clock the two differ by the fetch's milliseconds.
--
-- All three are NULL for rows archived before this migration: replay skips and counts them.
ALTER TABLE raw_responses
    ADD COLUMN operation   jsonb,
    ADD COLUMN request     jsonb,
    ADD COLUMN captured_at timestamptz;

-- Replay and diff read one source's responses over a range of capture days, in capture order
-- (a row from before has only its receipt time).
CREATE INDEX raw_responses_by_capture ON raw_responses (source, (COALESCE(captured_at, fetched_at)), id);
