-- ICU SMS notifier. Every table is prefixed sms_; creation is idempotent.
CREATE TABLE IF NOT EXISTS sms_patients (
    patient_id       text PRIMARY KEY,
    clinic           text NOT NULL,
    label            text NOT NULL DEFAULT '',
    attending_doctor text,
    status           text NOT NULL CHECK (status IN ('admitted','discharged','transferred','deceased')),
    updated_by       text NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS sms_patient_history (
    id          bigserial PRIMARY KEY,
    patient_id  text NOT NULL REFERENCES sms_patients(patient_id),
    status      text NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS sms_relatives (
    id            bigserial PRIMARY KEY,
    patient_id    text NOT NULL REFERENCES sms_patients(patient_id),
    phone_enc     bytea NOT NULL,
    phone_fp      bytea NOT NULL,
    phone_masked  text NOT NULL,
    relation      text NOT NULL,
    language      text NOT NULL CHECK (language IN ('ru','en')),
    active        boolean NOT NULL,
    bad_number    boolean NOT NULL DEFAULT false,
    consent_since timestamptz NOT NULL,
    UNIQUE (patient_id, phone_fp)
);

CREATE TABLE IF NOT EXISTS sms_consent_history (
    id          bigserial PRIMARY KEY,
    relative_id bigint NOT NULL REFERENCES sms_relatives(id),
    action      text NOT NULL CHECK (action IN ('granted','revoked','number_bad','stopped_by_reply')),
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS sms_observations (
    id          bigserial PRIMARY KEY,
    patient_id  text NOT NULL REFERENCES sms_patients(patient_id),
    measured_at timestamptz NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL,
    vals        jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_observations_patient ON sms_observations (patient_id, measured_at DESC);

CREATE TABLE IF NOT EXISTS sms_outbox (
    id              bigserial PRIMARY KEY,
    patient_id      text NOT NULL REFERENCES sms_patients(patient_id),
    relative_id     bigint NOT NULL REFERENCES sms_relatives(id),
    local_date      date NOT NULL,
    state           text NOT NULL,
    body            text,
    parts           int,
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    claim_token     uuid,
    sent_at         timestamptz,
    delivery_status int,
    next_poll_at    timestamptz,
    polls           int NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- Replies (issue 18): a relative's SMS, once per provider message id, and what it did.
CREATE TABLE IF NOT EXISTS sms_inbox (
    id          bigserial PRIMARY KEY,
    provider    text NOT NULL,
    provider_id text NOT NULL,
    phone_fp    bytea NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('stopped','not_subscribed','ignored')),
    received_at timestamptz NOT NULL,
    UNIQUE (provider, provider_id)
);

-- An outbox row is the daily message or the one confirmation of a reply. Columns added here
-- rather than above so that a database created before them is migrated the same way.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'sms_outbox'
                     AND column_name = 'kind') THEN
        ALTER TABLE sms_outbox
            ADD COLUMN kind text NOT NULL DEFAULT 'daily'
                CHECK (kind IN ('daily','stop_confirmation')),
            ADD COLUMN reply_to bigint REFERENCES sms_inbox(id);
    END IF;
    -- The one-a-day key holds for daily rows only (the index below); drop the old table-wide one.
    IF EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = 'sms_outbox'::regclass
                 AND conname = 'sms_outbox_patient_id_relative_id_local_date_key') THEN
        ALTER TABLE sms_outbox DROP CONSTRAINT sms_outbox_patient_id_relative_id_local_date_key;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'sms_consent_history'::regclass
                     AND conname = 'sms_consent_history_action_check'
                     AND pg_get_constraintdef(oid) LIKE '%stopped_by_reply%') THEN
        ALTER TABLE sms_consent_history DROP CONSTRAINT IF EXISTS sms_consent_history_action_check;
        ALTER TABLE sms_consent_history ADD CONSTRAINT sms_consent_history_action_check
            CHECK (action IN ('granted','revoked','number_bad','stopped_by_reply'));
    END IF;
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS sms_outbox_daily
    ON sms_outbox (patient_id, relative_id, local_date) WHERE kind = 'daily';
CREATE UNIQUE INDEX IF NOT EXISTS sms_outbox_reply ON sms_outbox (reply_to)
    WHERE reply_to IS NOT NULL;
CREATE INDEX IF NOT EXISTS sms_relatives_phone ON sms_relatives (phone_fp) WHERE active;

CREATE INDEX IF NOT EXISTS sms_outbox_ready ON sms_outbox (next_attempt_at)
    WHERE state IN ('pending','unknown','sending');
CREATE INDEX IF NOT EXISTS sms_outbox_poll ON sms_outbox (next_poll_at)
    WHERE state IN ('sent','delivered') AND next_poll_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS sms_outbox_history (
    id         bigserial PRIMARY KEY,
    outbox_id  bigint NOT NULL REFERENCES sms_outbox(id),
    state      text NOT NULL,
    event      text NOT NULL,
    detail     text,
    at         timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS sms_alerts (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    dedupe_key text NOT NULL,
    clinic     text,
    patient_id text,
    doctor     text,
    message    text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (kind, dedupe_key)
);
