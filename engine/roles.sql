-- The engine's least-privilege role. Applied by the administrator after schema.sql and the
-- notifier's schema; idempotent. The engine reads the journal and appends to it only through
-- journal_append (SECURITY DEFINER): it has no INSERT, UPDATE, DELETE or TRUNCATE on the
-- journal's tables and owns no table, so it cannot alter or disable their triggers either.
-- Snapshots it may add (INSERT) but not change. Its own working tables it may write.
DO $$
DECLARE
    t record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinicq_engine') THEN
        CREATE ROLE clinicq_engine LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO clinicq_engine', current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO clinicq_engine', current_schema());
    FOR t IN SELECT c.relname, c.relkind FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'S') LOOP
        IF t.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO clinicq_engine', t.relname);
        ELSIF t.relname LIKE 'journal%' THEN
            EXECUTE format('REVOKE ALL ON TABLE %I FROM clinicq_engine', t.relname);
            EXECUTE format('GRANT SELECT ON TABLE %I TO clinicq_engine', t.relname);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I TO clinicq_engine',
                           t.relname);
        END IF;
    END LOOP;
    GRANT INSERT ON TABLE journal_snapshot TO clinicq_engine;
    REVOKE ALL ON FUNCTION journal_link_entry(bytea, text, bigint, text, bigint, text, text, text,
                                              timestamptz) FROM PUBLIC;
END;
$$;

REVOKE ALL ON FUNCTION journal_append(text[], bigint[], text[], bigint[], text[], text[], text[],
                                      text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION journal_append(text[], bigint[], text[], bigint[], text[], text[],
                                         text[], text[], text[]) TO clinicq_engine;
REVOKE ALL ON FUNCTION journal_ensure_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION journal_ensure_partition(date) TO clinicq_engine;
REVOKE ALL ON FUNCTION journal_prune_snapshots(text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION journal_prune_snapshots(text, int) TO clinicq_engine;
