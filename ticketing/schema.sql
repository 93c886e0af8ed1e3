-- Print jobs, the truth of what each kiosk printed (Redis keeps a working copy). Idempotent.
CREATE TABLE IF NOT EXISTS print_jobs (
    clinic       text NOT NULL,
    id           text NOT NULL,
    ticket       text NOT NULL,
    kiosk        text NOT NULL,
    state        text NOT NULL,
    reprint_of   text,
    record       jsonb NOT NULL,  -- ticketing.records.JobRecord, with the ticket's print data
    submitted_at timestamptz NOT NULL,
    PRIMARY KEY (clinic, id)
);
-- The first print of a ticket, found again after Redis lost its claim.
CREATE INDEX IF NOT EXISTS print_jobs_first ON print_jobs (clinic, ticket, submitted_at)
    WHERE reprint_of IS NULL;
