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
