"""A fresh set of visitor questions for the PostgreSQL 15 documentation, split `"fresh"`.

Written after the tune and holdout sets had been used, by a writer who never saw how the system
does on them, on topics those sets touch little. Nobody tunes on them or reads their answers:
they are reported beside tune and holdout as the honest figure. See `bench.questions` for the
fields.
"""

from __future__ import annotations

from bench.questions import Question, f, uf

ANSWERABLE: tuple[Question, ...] = (
    # --- psql ---
    f(
        "psql: can it tell me how many milliseconds each of my queries took",
        "app-psql.html",
        "\\timing",
    ),
    f(
        "psql output of a table with 30 columns wraps into an unreadable mess, can it show "
        "one field per line",
        "app-psql.html",
        "\\x",
        "expanded table formatting",
    ),
    f(
        "my migration .sql file keeps going after an error in psql, I want it to stop at the "
        "first failure",
        "app-psql.html backup-dump.html",
        "ON_ERROR_STOP",
    ),
    # --- tables and other objects ---
    f(
        "cannot drop my test database because other sessions are still connected to it",
        "sql-dropdatabase.html app-dropdb.html",
        "FORCE",
    ),
    f(
        "changing a varchar column to integer fails, saying it can't be cast automatically",
        "sql-altertable.html ddl-alter.html",
        "USING clause",
    ),
    f(
        "empty a table and start the id numbers at 1 again",
        "sql-truncate.html",
        "RESTART IDENTITY",
    ),
    f(
        "can I run insert/update directly against a view, or do I need triggers",
        "sql-createview.html rules-views.html",
        "automatically updatable",
        "INSTEAD OF",
    ),
    f(
        "put a description on a column so people know what it means",
        "sql-comment.html",
        "COMMENT ON",
    ),
    f(
        "reuse the same email check on columns in many tables instead of copying the CHECK",
        "sql-createdomain.html domains.html",
        "CREATE DOMAIN",
    ),
    f(
        "two tables reference each other with foreign keys, can the check wait until commit "
        "so I can insert both",
        "sql-set-constraints.html sql-createtable.html",
        "DEFERRABLE",
        "SET CONSTRAINTS",
    ),
    f(
        "keep a log of every CREATE/ALTER/DROP anyone runs in the database",
        "event-trigger-definition.html sql-createeventtrigger.html event-triggers.html "
        "functions-event-triggers.html plpgsql-trigger.html",
        "ddl_command_end",
        "CREATE EVENT TRIGGER",
    ),
    f(
        "the data disk is full, can I put one big table on another drive",
        "manage-ag-tablespaces.html sql-createtablespace.html",
        "CREATE TABLESPACE",
    ),
    f(
        "after upgrading to 15 my app's user gets permission denied for schema public when "
        "creating tables",
        "ddl-schemas.html release-15.html",
        "CREATE privilege",
        "pg_database_owner",
    ),
    # --- queries and functions ---
    f(
        "division by zero error in my report query when the count is 0",
        "functions-conditional.html",
        "NULLIF",
    ),
    f(
        "total sales per month from a timestamp column",
        "functions-datetime.html",
        "date_trunc",
    ),
    f(
        "stored times are in UTC but I need to show them in New York time",
        "functions-datetime.html datatype-datetime.html",
        "AT TIME ZONE",
    ),
    f(
        "change one key in a jsonb column without rewriting the whole json in my app",
        "functions-json.html datatype-json.html",
        "jsonb_set",
    ),
    f(
        "return the rows of a query as one json array for my api",
        "functions-aggregate.html functions-json.html",
        "json_agg",
    ),
    f(
        "median response time per endpoint, there is no median() function",
        "functions-aggregate.html sql-expressions.html",
        "percentile_cont",
    ),
    f(
        "WHERE old_value <> new_value skips the rows where one side is null",
        "functions-comparison.html",
        "IS DISTINCT FROM",
    ),
    f(
        "postgres complains my column must appear in group by or be used in an aggregate, "
        "mysql ran the same query fine",
        "queries-table-expressions.html sql-select.html",
        "aggregate expressions",
        "functionally dependent",
    ),
    # --- data types and extensions ---
    f(
        "store a category tree as paths like electronics.phones.android and query whole branches",
        "ltree.html",
        "ltree",
    ),
    f(
        "keep small images / pdf files in a column",
        "datatype-binary.html",
        "bytea",
    ),
    # --- functions, procedural code ---
    f(
        "plpgsql function that returns a set of rows from a select",
        "plpgsql-control-structures.html xfunc-sql.html",
        "RETURN QUERY",
        "RETURNS TABLE",
    ),
    f(
        "let a normal user run one function that touches a table they have no rights on",
        "sql-createfunction.html",
        "SECURITY DEFINER",
    ),
    f(
        "table name is a variable inside my plpgsql function, how do I build and run the "
        "query safely",
        "plpgsql-statements.html functions-string.html",
        "format(",
        "quote_ident",
    ),
    # --- indexes and performance ---
    f(
        "append-only table with billions of rows sorted by time, a btree index is huge. "
        "anything smaller",
        "brin-intro.html indexes-types.html",
        "BRIN",
    ),
    f(
        "add extra columns to an index so the query never touches the table",
        "indexes-index-only-scans.html sql-createindex.html",
        "INCLUDE",
        "covering index",
    ),
    # --- server administration ---
    f(
        "where does postgres write its log files, I can't find them",
        "runtime-config-logging.html functions-info.html",
        "log_directory",
        "logging_collector",
        "pg_current_logfile",
    ),
    f(
        "only one worker at a time should run the nightly import, can postgres act as the mutex",
        "explicit-locking.html functions-admin.html",
        "advisory lock",
        "pg_advisory_lock",
    ),
    f(
        "linux keeps killing the postgres process when memory runs low",
        "kernel-resources.html",
        "overcommit",
    ),
    f(
        "service fails to start and the log says it could not bind to 127.0.0.1 port 5432",
        "server-start.html",
        "same port",
    ),
    f(
        "find out if an index is corrupted",
        "amcheck.html app-pgamcheck.html",
        "bt_index_check",
        "pg_amcheck",
    ),
    f(
        "after every restart the first queries are slow until the cache fills up again, can "
        "I load the tables into memory ahead of time",
        "pgprewarm.html",
        "pg_prewarm",
        "autoprewarm",
    ),
    f(
        "let staff log in to the database with their company directory (LDAP) password",
        "auth-ldap.html",
        "ldapserver",
    ),
    f(
        "a contractor's login should stop working automatically at the end of the month",
        "sql-createrole.html sql-alterrole.html sql-createuser.html sql-alteruser.html",
        "VALID UNTIL",
    ),
    f(
        "long reports on the standby get cancelled with a conflict with recovery error",
        "hot-standby.html runtime-config-replication.html",
        "hot_standby_feedback",
        "max_standby_streaming_delay",
    ),
    f(
        "keep named connection settings in a file and connect with just a short name",
        "libpq-pgservice.html libpq-connect.html",
        "pg_service.conf",
    ),
    f(
        "base backups are huge, can pg_basebackup squeeze them with zstd",
        "app-pgbasebackup.html release-15.html",
        "zstd",
    ),
    f(
        "building postgres from source and I need ssl support turned on",
        "install-procedure.html",
        "--with-ssl",
    ),
)

UNANSWERABLE: tuple[Question, ...] = (
    uf("pg_repack to get rid of table bloat without a long lock"),
    uf("grafana dashboard with prometheus metrics for my postgres server"),
    uf("how do I connect Metabase to my postgres database"),
    uf("knex migration rollback only the last batch"),
    uf("TypeORM generates an empty migration for my postgres entities"),
    uf("neon database branching for preview deployments"),
    uf("crunchy postgres operator backups on kubernetes"),
    uf("set up the PgHero dashboard for my postgres server"),
    uf("flyway baseline an existing postgres database"),
    uf("pg_stat_monitor vs pg_stat_statements, which one should I install"),
    uf("how many IOPS do I need for a 2 TB postgres database on EBS gp3"),
    uf("DataGrip keeps asking me to download a driver before it connects to postgres"),
)

FRESH: tuple[Question, ...] = ANSWERABLE + UNANSWERABLE
