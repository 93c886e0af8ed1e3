-- The durable side of the engine. Applied at start-up by the database's administrator role (the
-- one in DATABASE_URL); every statement is idempotent. The engine itself then runs as the
-- least-privilege role set up by roles.sql.

-- The journal: every event the engine decided, per clinic, append-only and hash-chained, in
-- monthly partitions (by commit time) so that old months can be archived and detached.
-- `offset` is the clinic's event offset that Redis assigned; a clinic's offsets are contiguous
-- and committed in order, which journal_append enforces under the clinic's head lock (a unique
-- index cannot span partitions). `body` is the event's exact JSON text.
-- Upgrade from the first release's journal (one unpartitioned table whose hash covered only
-- clinic, offset and body): keep it as journal_v1 and re-chain its rows below.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relname = 'journal' AND c.relkind = 'r' AND n.nspname = current_schema()) THEN
        ALTER TABLE journal RENAME TO journal_v1;
        ALTER TABLE journal_head RENAME TO journal_head_v1;
    END IF;
END;
$$;

CREATE TABLE IF NOT EXISTS journal (
    seq          bigserial,
    clinic       text        NOT NULL,
    "offset"     bigint      NOT NULL,
    kind         text        NOT NULL,
    at_ms        bigint      NOT NULL,
    body         text        NOT NULL,
    idem_key     text,
    idem_record  text,
    prev_hash    bytea       NOT NULL,
    hash         bytea       NOT NULL,
    recorded_at  timestamptz NOT NULL
) PARTITION BY RANGE (recorded_at);

CREATE INDEX IF NOT EXISTS journal_clinic_offset ON journal (clinic, "offset");
CREATE INDEX IF NOT EXISTS journal_clinic_recorded ON journal (clinic, recorded_at)
    WHERE idem_key IS NOT NULL;
-- A past day's reservation is read from the journal (Redis drops it when a new day opens), by
-- its id: these two indexes find the events that carry it (engine/reservations_postgres.py),
-- as `reservation` or as the hold another booking marked `expired`, without reading the rest
-- of the clinic's history. Expression indexes and not a side table: journal_append stays as it
-- is, every month's partition (attached or already detached for the archive) carries its own
-- copy, and nothing needs filling in for the entries journaled before them. Partial, so that
-- only the booking events' bodies are parsed on append. The predicates are repeated verbatim
-- in the lookup's query, which is what lets the planner use them.
CREATE INDEX IF NOT EXISTS journal_reservation
    ON journal (clinic, ((body::jsonb) #>> '{reservation,id}'))
    WHERE kind IN ('slot_reserved', 'reservation_confirmed', 'reservation_cancelled',
                   'reservation_moved', 'checked_in');
CREATE INDEX IF NOT EXISTS journal_reservation_expired
    ON journal (clinic, ((body::jsonb) #>> '{expired,id}'))
    WHERE kind IN ('slot_reserved', 'reservation_moved');
CREATE TABLE IF NOT EXISTS journal_default PARTITION OF journal DEFAULT;

-- Each clinic's chain head: the last committed offset, its chain hash, and `last_link`, the
-- SHA-1 of its body as Redis computed it (the fence: see journal_append).
CREATE TABLE IF NOT EXISTS journal_head (
    clinic       text   PRIMARY KEY,
    last_offset  bigint NOT NULL DEFAULT 0,
    last_link    text   NOT NULL DEFAULT '',
    last_hash    bytea  NOT NULL DEFAULT decode(repeat('00', 32), 'hex'),
    entries      bigint NOT NULL DEFAULT 0,
    waiting      bigint NOT NULL DEFAULT 0
);

-- Entries that arrived before their predecessor (another worker's group commit still in flight):
-- they join the journal, in order, when the gap closes.
CREATE TABLE IF NOT EXISTS journal_waiting (
    clinic       text   NOT NULL,
    "offset"     bigint NOT NULL,
    link         text   NOT NULL,
    prev_link    text   NOT NULL,
    kind         text   NOT NULL,
    at_ms        bigint NOT NULL,
    body         text   NOT NULL,
    idem_key     text,
    idem_record  text,
    PRIMARY KEY (clinic, "offset", link)
);

-- A clinic's folded live state at an offset, so that a rebuild folds only the tail.
-- `chain_hash` is the journal's hash at that offset (a snapshot belongs to one history);
-- `digest` = sha256(chain_hash || state) guards the state's bytes.
CREATE TABLE IF NOT EXISTS journal_snapshot (
    clinic      text        NOT NULL,
    "offset"    bigint      NOT NULL,
    chain_hash  bytea       NOT NULL,
    state       bytea       NOT NULL,
    digest      bytea       NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic, "offset")
);

-- Snapshots are derived: all but a clinic's newest few may go. The engine's role may prune
-- through this function but may not delete a snapshot itself.
CREATE OR REPLACE FUNCTION journal_prune_snapshots(p_clinic text, p_keep int) RETURNS void
SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM journal_snapshot WHERE clinic = p_clinic AND "offset" < (
        SELECT min("offset") FROM (SELECT "offset" FROM journal_snapshot WHERE clinic = p_clinic
                                   ORDER BY "offset" DESC LIMIT greatest(p_keep, 1)) newest);
$$ LANGUAGE sql;

-- A month's last chain head per clinic, written when the month is archived, so that
-- `audit verify` checks the attached months against it.
CREATE TABLE IF NOT EXISTS journal_checkpoint (
    clinic       text        NOT NULL,
    month        date        NOT NULL,
    last_offset  bigint      NOT NULL,
    last_hash    bytea       NOT NULL,
    entries      bigint      NOT NULL,
    signature    bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic, month)
);

CREATE OR REPLACE FUNCTION journal_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

-- A month's partition, with the append-only triggers (statement-level TRUNCATE triggers are not
-- inherited, so every partition carries its own).
CREATE OR REPLACE FUNCTION journal_ensure_partition(p_month date) RETURNS text
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    first date := date_trunc('month', p_month)::date;
    name text := 'journal_' || to_char(first, 'YYYY_MM');
BEGIN
    -- Schema-qualified: a temporary table of the same name must not stand in for it.
    IF to_regclass('public.' || name) IS NULL THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF journal FOR VALUES FROM (%L) TO (%L)',
                       name, first::timestamptz, (first + interval '1 month')::timestamptz);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'journal_no_truncate'
                   AND tgrelid = to_regclass('public.' || name)) THEN
        EXECUTE format('CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON public.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only()', name);
    END IF;
    RETURN name;
END;
$$ LANGUAGE plpgsql;

DO $$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'journal_append_only'
                   AND tgrelid = 'journal'::regclass) THEN
        CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
            FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
    END IF;
    FOREACH t IN ARRAY ARRAY['journal', 'journal_default', 'journal_head', 'journal_checkpoint'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'journal_no_truncate'
                       AND tgrelid = t::regclass) THEN
            EXECUTE format('CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON %I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only()', t);
        END IF;
    END LOOP;
    -- This month and the next always exist; the background task keeps it so.
    PERFORM journal_ensure_partition(date_trunc('month', now() AT TIME ZONE 'UTC')::date);
    PERFORM journal_ensure_partition((date_trunc('month', now() AT TIME ZONE 'UTC')
                                      + interval '1 month')::date);
END;
$$;

CREATE TABLE IF NOT EXISTS clinics (
    id          text PRIMARY KEY,
    config      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tokens (
    id          text PRIMARY KEY,
    digest      bytea NOT NULL UNIQUE,
    role        text NOT NULL,
    clinic      text,
    doctor      text,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- The canonical encoding an entry's hash covers (docs/ARCHITECTURE.md, "Tamper evidence"):
-- every column the engine reads back, each as "<byte length>:<UTF-8 bytes>", NULL as "~", in
-- this order: clinic, offset, kind, at_ms, recorded_at (µs since 1970), idem_key, idem_record,
-- body. hash = sha256(prev_hash || encoding). engine/audit.py: canonical() is the same.
CREATE OR REPLACE FUNCTION journal_entry_hash(
    p_prev bytea, p_clinic text, p_offset bigint, p_kind text, p_at bigint,
    p_recorded timestamptz, p_idem_key text, p_idem_record text, p_body text
) RETURNS bytea AS $$
DECLARE
    -- plpgsql, not a SQL function: a non-inlined SQL function is planned per call, which
    -- doubled the cost of every journal append.
    fields text[] := ARRAY[p_clinic, p_offset::text, p_kind, p_at::text,
                           ((extract(epoch FROM p_recorded) * 1000000)::bigint)::text,
                           p_idem_key, p_idem_record, p_body];
    encoding text := '';
    v text;
BEGIN
    FOREACH v IN ARRAY fields LOOP
        encoding := encoding || CASE WHEN v IS NULL THEN '~'
                                     ELSE octet_length(convert_to(v, 'UTF8'))::text || ':' || v END;
    END LOOP;
    RETURN sha256(p_prev || convert_to(encoding, 'UTF8'));
END;
$$ LANGUAGE plpgsql IMMUTABLE;

-- The first release's journal_append (no fence, the old encoding) must not outlive it.
DROP FUNCTION IF EXISTS journal_append(text[], bigint[], text[], bigint[], text[], text[], text[]);

-- One entry onto a clinic's chain; returns its hash. Only journal_append calls it.
CREATE OR REPLACE FUNCTION journal_link_entry(
    p_prev bytea, p_clinic text, p_offset bigint, p_kind text, p_at bigint, p_body text,
    p_idem_key text, p_idem_record text, p_recorded timestamptz
) RETURNS bytea AS $$
DECLARE
    h bytea := journal_entry_hash(p_prev, p_clinic, p_offset, p_kind, p_at, p_recorded,
                                  p_idem_key, p_idem_record, p_body);
BEGIN
    INSERT INTO journal (clinic, "offset", kind, at_ms, body, idem_key, idem_record, prev_hash,
                         hash, recorded_at)
        VALUES (p_clinic, p_offset, p_kind, p_at, p_body, p_idem_key, p_idem_record, p_prev, h,
                p_recorded);
    RETURN h;
END;
$$ LANGUAGE plpgsql;

-- Append a batch (group commit) in one round trip. For each clinic, under its head lock, in
-- offset order, an entry is:
--   at or below the head: already journaled with the same body (a retry) -> nothing; with
--     another body -> 'clash'; not there at all -> 'hole' (a row was removed: reported, never
--     patched over);
--   the head's successor: committed only if its prev_link (the SHA-1 of its predecessor as
--     Redis had it) equals the head's link; else 'diverged': Redis decided it on a history that
--     is not the journal's (a Redis that came back behind, a promoted lagging replica);
--   further ahead: parked in journal_waiting ('waiting') until its predecessors arrive.
-- Every row returned is an entry that was not (yet) committed. SECURITY DEFINER: the engine's
-- role may call it but may not write the journal tables itself.
CREATE OR REPLACE FUNCTION journal_append(
    p_clinic text[], p_offset bigint[], p_kind text[], p_at bigint[], p_body text[],
    p_idem_key text[], p_idem_record text[], p_prev_link text[], p_link text[]
) RETURNS TABLE (r_clinic text, r_offset bigint, r_status text)
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    w record;
    found_body text;
    cur text := NULL;
    h_offset bigint;
    h_link text;
    h_hash bytea;
    h_entries bigint;
    h_waiting bigint;
    ts timestamptz;
BEGIN
    INSERT INTO journal_head (clinic)
        SELECT DISTINCT u FROM unnest(p_clinic) AS u ORDER BY u ON CONFLICT DO NOTHING;
    PERFORM 1 FROM journal_head WHERE clinic = ANY (p_clinic) ORDER BY clinic FOR UPDATE;
    -- Taken under the heads' locks, so a clinic's entries are stamped in offset order and a
    -- month's partition holds a prefix of each chain (what archiving relies on).
    ts := clock_timestamp();
    FOR r IN
        SELECT * FROM unnest(p_clinic, p_offset, p_kind, p_at, p_body, p_idem_key, p_idem_record,
                             p_prev_link, p_link)
            WITH ORDINALITY AS b(clinic, "offset", kind, at_ms, body, idem_key, idem_record,
                                 prev_link, link, k)
        ORDER BY b.clinic, b."offset", b.k
    LOOP
        IF cur IS DISTINCT FROM r.clinic THEN
            IF cur IS NOT NULL THEN
                UPDATE journal_head SET last_offset = h_offset, last_link = h_link,
                    last_hash = h_hash, entries = h_entries, waiting = h_waiting
                    WHERE clinic = cur;
            END IF;
            cur := r.clinic;
            SELECT last_offset, last_link, last_hash, entries, waiting
                INTO h_offset, h_link, h_hash, h_entries, h_waiting
                FROM journal_head WHERE clinic = cur;
        END IF;
        r_clinic := r.clinic;
        r_offset := r."offset";
        IF r."offset" <= h_offset THEN
            SELECT j.body INTO found_body FROM journal j
                WHERE j.clinic = r.clinic AND j."offset" = r."offset";
            IF NOT FOUND THEN
                r_status := 'hole';
                RETURN NEXT;
            ELSIF found_body <> r.body THEN
                r_status := 'clash';
                RETURN NEXT;
            END IF;
            CONTINUE;
        END IF;
        IF r."offset" > h_offset + 1 THEN
            INSERT INTO journal_waiting (clinic, "offset", link, prev_link, kind, at_ms, body,
                                         idem_key, idem_record)
                VALUES (r.clinic, r."offset", r.link, r.prev_link, r.kind, r.at_ms, r.body,
                        r.idem_key, r.idem_record)
                ON CONFLICT DO NOTHING;
            h_waiting := h_waiting + 1;
            r_status := 'waiting';
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF r.prev_link <> h_link THEN
            r_status := 'diverged';
            RETURN NEXT;
            CONTINUE;
        END IF;
        h_hash := journal_link_entry(h_hash, r.clinic, r."offset", r.kind, r.at_ms, r.body,
                                     r.idem_key, r.idem_record, ts);
        h_offset := r."offset";
        h_link := r.link;
        h_entries := h_entries + 1;
        -- Entries parked behind this one may follow now.
        IF h_waiting > 0 THEN
            LOOP
                SELECT * INTO w FROM journal_waiting
                    WHERE clinic = cur AND "offset" = h_offset + 1 AND prev_link = h_link LIMIT 1;
                EXIT WHEN NOT FOUND;
                h_hash := journal_link_entry(h_hash, w.clinic, w."offset", w.kind, w.at_ms,
                                             w.body, w.idem_key, w.idem_record, ts);
                h_offset := w."offset";
                h_link := w.link;
                h_entries := h_entries + 1;
            END LOOP;
            DELETE FROM journal_waiting WHERE clinic = cur AND "offset" <= h_offset;
            SELECT count(*) INTO h_waiting FROM journal_waiting WHERE clinic = cur;
        END IF;
    END LOOP;
    IF cur IS NOT NULL THEN
        UPDATE journal_head SET last_offset = h_offset, last_link = h_link, last_hash = h_hash,
            entries = h_entries, waiting = h_waiting
            WHERE clinic = cur;
    END IF;
END;
$$ LANGUAGE plpgsql;

-- The upgrade's second half: the first release's entries, re-chained under the full encoding
-- in offset order, once (their old chain is kept in journal_v1 for the record).
DO $$
DECLARE
    r record;
    cur text := NULL;
    h bytea;
    n bigint;
    last bigint;
    stamp timestamptz;
BEGIN
    IF to_regclass('journal_v1') IS NULL OR EXISTS (SELECT 1 FROM journal_head) THEN
        RETURN;
    END IF;
    PERFORM journal_ensure_partition(m) FROM (
        SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'UTC')::date AS m
        FROM journal_v1) months;
    FOR r IN SELECT * FROM journal_v1 ORDER BY clinic, "offset" LOOP
        IF cur IS DISTINCT FROM r.clinic THEN
            IF cur IS NOT NULL THEN
                INSERT INTO journal_head (clinic, last_offset, last_hash, entries)
                    VALUES (cur, last, h, n);
            END IF;
            cur := r.clinic;
            h := decode(repeat('00', 32), 'hex');
            n := 0;
            stamp := '-infinity';
        END IF;
        -- The first release stamped at transaction start, not in offset order: keep the stamps
        -- monotonic so that each month still holds one stretch of the chain.
        stamp := greatest(stamp, r.recorded_at);
        h := journal_link_entry(h, r.clinic, r."offset", r.kind, r.at_ms, r.body, r.idem_key,
                                r.idem_record, stamp);
        n := n + 1;
        last := r."offset";
    END LOOP;
    IF cur IS NOT NULL THEN
        INSERT INTO journal_head (clinic, last_offset, last_hash, entries) VALUES (cur, last, h, n);
    END IF;
END;
$$;
