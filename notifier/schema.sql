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
    action      text NOT NULL CHECK (action IN ('granted','revoked','number_bad')),
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
    updated_at      timestamptz NOT NULL,
    UNIQUE (patient_id, relative_id, local_date)
);
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
