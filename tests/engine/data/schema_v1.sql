-- The durable side of the engine. Applied at start-up; every statement is idempotent.

-- The journal: every event the engine decided, per clinic, append-only and hash-chained.
-- `seq` is the order entries were committed in, the order of the chain; `offset` is the clinic's
-- event offset that Redis assigned. `body` is the event's exact JSON text, the bytes hashed.
CREATE TABLE IF NOT EXISTS journal (
    seq          bigserial PRIMARY KEY,
    clinic       text      NOT NULL,
    "offset"     bigint    NOT NULL,
    kind         text      NOT NULL,
    at_ms        bigint    NOT NULL,
    body         text      NOT NULL,
    idem_key     text,
    idem_record  text,
    prev_hash    bytea     NOT NULL,
    hash         bytea     NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (clinic, "offset")
);

CREATE TABLE IF NOT EXISTS journal_head (
    clinic     text   PRIMARY KEY,
    last_hash  bytea  NOT NULL,
    entries    bigint NOT NULL
);

CREATE OR REPLACE FUNCTION journal_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'journal_append_only') THEN
        CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
            FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
    END IF;
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

-- Append a batch (group commit) in one round trip: lock the heads the batch touches in a fixed
-- order, skip entries already journaled with the same body, report those journaled with another
-- body (a clash), and extend each clinic's chain: hash = sha256(prev || "clinic\noffset\nbody").
CREATE OR REPLACE FUNCTION journal_append(
    p_clinic text[], p_offset bigint[], p_kind text[], p_at bigint[], p_body text[],
    p_idem_key text[], p_idem_record text[]
) RETURNS TABLE (clash_clinic text, clash_offset bigint) AS $$
DECLARE
    r record;
    existing text;
    current_clinic text := NULL;
    prev bytea;
    n bigint;
BEGIN
    INSERT INTO journal_head (clinic, last_hash, entries)
        SELECT DISTINCT u, decode(repeat('00', 32), 'hex'), 0 FROM unnest(p_clinic) AS u ORDER BY u
        ON CONFLICT DO NOTHING;
    PERFORM 1 FROM journal_head WHERE clinic = ANY (p_clinic) ORDER BY clinic FOR UPDATE;
    -- Clinic by clinic, each in the order given; a head is written once per clinic.
    FOR r IN
        SELECT * FROM unnest(p_clinic, p_offset, p_kind, p_at, p_body, p_idem_key, p_idem_record)
            WITH ORDINALITY AS b(clinic, "offset", kind, at_ms, body, idem_key, idem_record, k)
        ORDER BY b.clinic, b.k
    LOOP
        IF current_clinic IS DISTINCT FROM r.clinic THEN
            IF current_clinic IS NOT NULL THEN
                UPDATE journal_head SET last_hash = prev, entries = n WHERE clinic = current_clinic;
            END IF;
            current_clinic := r.clinic;
            SELECT h.last_hash, h.entries INTO prev, n FROM journal_head h WHERE h.clinic = r.clinic;
        END IF;
        SELECT j.body INTO existing FROM journal j WHERE j.clinic = r.clinic AND j."offset" = r."offset";
        IF FOUND THEN
            IF existing <> r.body THEN
                clash_clinic := r.clinic;
                clash_offset := r."offset";
                RETURN NEXT;
            END IF;
            CONTINUE;
        END IF;
        INSERT INTO journal (clinic, "offset", kind, at_ms, body, idem_key, idem_record, prev_hash, hash)
            VALUES (r.clinic, r."offset", r.kind, r.at_ms, r.body, r.idem_key, r.idem_record, prev,
                    sha256(prev || convert_to(r.clinic || E'\n' || r."offset" || E'\n' || r.body, 'UTF8')))
            RETURNING hash INTO prev;
        n := n + 1;
    END LOOP;
    IF current_clinic IS NOT NULL THEN
        UPDATE journal_head SET last_hash = prev, entries = n WHERE clinic = current_clinic;
    END IF;
END;
$$ LANGUAGE plpgsql;
