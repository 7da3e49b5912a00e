"""Visitor questions for the PostgreSQL 15 documentation (Debian's postgresql-doc-15 package).

Pages are paths under the HTML root; see `bench.questions` for what the fields mean.
"""

from __future__ import annotations

from bench.questions import Question, QuestionSet, h, q, u, uh
from bench.questions.postgres15_fresh import FRESH

SITE_ROOT = "/usr/share/doc/postgresql-doc-15/html"

ANSWERABLE: tuple[Question, ...] = (
    # --- monitoring what is going on ---
    q(
        "is there a way to see which queries are running right now and for how long",
        "monitoring-stats.html",
        "pg_stat_activity",
    ),
    h(
        "a report query has been running for an hour, how do I stop it without restarting "
        "the whole server",
        "functions-admin.html",
        "pg_cancel_backend",
        "pg_terminate_backend",
    ),
    h(
        "my ALTER TABLE just hangs. how can I find out which session is blocking it",
        "view-pg-locks.html functions-info.html monitoring-locks.html",
        "pg_blocking_pids",
        "pg_locks",
    ),
    h(
        "which statements eat the most total time on my server over the day",
        "pgstatstatements.html",
        "pg_stat_statements",
        "total_exec_time",
    ),
    q(
        "how do I get slow queries written to the log file, say anything over 500ms",
        "runtime-config-logging.html auto-explain.html",
        "log_min_duration_statement",
        "auto_explain.log_min_duration",
    ),
    q(
        "find indexes nobody ever uses so I can drop them",
        "monitoring-stats.html",
        "idx_scan",
    ),
    h(
        "how far behind is my replica? want to alert when it lags",
        "monitoring-stats.html",
        "pg_stat_replication",
        "replay_lag",
    ),
    q(
        "create index on a big table has been going for ages, can I see how far along it is",
        "progress-reporting.html",
        "pg_stat_progress_create_index",
    ),
    q(
        "how big is each table on disk including its indexes",
        "functions-admin.html disk-usage.html",
        "pg_total_relation_size",
    ),
    q(
        "what postgres version is this server, from sql",
        "functions-info.html",
        "server_version",
    ),
    # --- maintenance, vacuum, bloat ---
    q(
        "db got slow after we deleted a lot of rows, what should I run",
        "routine-vacuuming.html sql-vacuum.html",
        "VACUUM",
    ),
    h(
        "table file is still huge after deleting half the rows, how do I actually give the "
        "disk space back to the OS",
        "routine-vacuuming.html sql-vacuum.html",
        "VACUUM FULL",
    ),
    h(
        "how do I see how many dead rows a table has",
        "monitoring-stats.html pgstattuple.html",
        "n_dead_tup",
        "dead_tuple_count",
    ),
    q(
        "autovacuum can't keep up with one really busy table, can i make it kick in sooner "
        "just for that table",
        "runtime-config-autovacuum.html routine-vacuuming.html sql-createtable.html",
        "autovacuum_vacuum_scale_factor",
    ),
    q(
        "got a warning that the database must be vacuumed within N transactions to avoid "
        "shutdown?? should I panic",
        "routine-vacuuming.html",
        "wraparound",
    ),
    h(
        "index got bloated over time, rebuild it without blocking writes",
        "sql-reindex.html routine-reindex.html",
        "REINDEX",
        "CONCURRENTLY",
    ),
    q(
        "query plans went bad after a big data load, row estimates way off",
        "sql-analyze.html planner-stats.html routine-vacuuming.html",
        "ANALYZE",
    ),
    q(
        "planner badly underestimates rows when I filter on city and zip together, they're "
        "obviously related",
        "planner-stats.html sql-createstatistics.html multivariate-statistics-examples.html",
        "CREATE STATISTICS",
        "functional dependencies",
    ),
    # --- query tuning, indexes ---
    q(
        "how do I see why postgres isn't using my index",
        "using-explain.html sql-explain.html indexes-examine.html",
        "EXPLAIN ANALYZE",
    ),
    q(
        "add an index to a production table without locking out inserts",
        "sql-createindex.html",
        "CONCURRENTLY",
    ),
    h(
        "case-insensitive lookup on email, WHERE lower(email) = ... is doing a seq scan",
        "indexes-expressional.html citext.html",
        "lower(",
        "citext",
    ),
    q(
        "only 1% of rows have status = 'pending' and those are the only ones I query. index "
        "just those?",
        "indexes-partial.html",
        "partial index",
    ),
    h(
        "does the order of columns in a two-column index matter",
        "indexes-multicolumn.html",
        "leftmost",
        "leading",
    ),
    q(
        "LIKE 'abc%' doesn't use my btree index (non-C locale)",
        "indexes-opclass.html",
        "text_pattern_ops",
    ),
    h(
        "which index type should i use for jsonb or array containment queries",
        "indexes-types.html gin-intro.html datatype-json.html",
        "USING gin",
        "jsonb_path_ops",
    ),
    q(
        "search that tolerates typos in people's names",
        "pgtrgm.html fuzzystrmatch.html",
        "similarity",
        "levenshtein",
    ),
    q(
        "page 5000 of my results with LIMIT/OFFSET is super slow",
        "queries-limit.html",
        "large OFFSET",
    ),
    q(
        "big analytics query only uses one cpu core, how do I get more workers on it",
        "when-can-parallel-query-be-used.html runtime-config-resource.html "
        "how-parallel-query-works.html",
        "max_parallel_workers_per_gather",
    ),
    h(
        "short queries got slower and EXPLAIN mentions JIT, can I turn that off",
        "jit-decision.html runtime-config-query.html jit-configuration.html",
        "jit_above_cost",
    ),
    h(
        "sorts and hashes spill to temp files on disk, which memory setting do I raise",
        "runtime-config-resource.html",
        "work_mem",
    ),
    q(
        "how much RAM should shared_buffers get on a dedicated 32GB box",
        "runtime-config-resource.html",
        "25%",
    ),
    q(
        "loading tens of millions of rows takes forever, any tricks to speed it up",
        "populate.html",
        "Remove Indexes",
        "maintenance_work_mem",
    ),
    # --- writing queries ---
    h(
        "insert a row, or update it if the key is already there (upsert)",
        "sql-insert.html sql-merge.html",
        "ON CONFLICT",
        "MERGE",
    ),
    q(
        "get back the generated id right after an insert without a second query",
        "dml-returning.html sql-insert.html",
        "RETURNING",
    ),
    h(
        "latest order per customer, one row each",
        "sql-select.html queries-select-lists.html",
        "DISTINCT ON",
    ),
    q(
        "running total of sales by date, and rank inside each region",
        "tutorial-window.html functions-window.html",
        "PARTITION BY",
        "rank()",
    ),
    h(
        "walk an employee -> manager tree to get everyone under a given boss",
        "queries-with.html",
        "WITH RECURSIVE",
    ),
    q(
        "list every day of the month even days with no orders so the chart has no gaps",
        "functions-srf.html",
        "generate_series",
    ),
    h(
        "turn rows into columns, like a pivot table in excel",
        "tablefunc.html",
        "crosstab",
    ),
    q(
        "comma separated list of all tags per post in one column",
        "functions-aggregate.html",
        "string_agg",
    ),
    q(
        "count only the rows matching a condition inside the same GROUP BY, without a subquery",
        "sql-expressions.html tutorial-agg.html",
        "FILTER (WHERE",
    ),
    h(
        "subtotals per region and a grand total in one query",
        "queries-table-expressions.html",
        "ROLLUP",
        "GROUPING SETS",
    ),
    q(
        "for each row in users run a subquery that references it, like a for-each join",
        "queries-table-expressions.html sql-select.html",
        "LATERAL",
    ),
    q(
        "ORDER BY price DESC puts the NULL prices at the top, i want them at the bottom",
        "queries-order.html sql-select.html",
        "NULLS LAST",
    ),
    q(
        "my CTE gets inlined and runs slower, can I force it to be computed once",
        "queries-with.html sql-select.html",
        "MATERIALIZED",
    ),
    h(
        "update rows in one table using values from another table",
        "sql-update.html",
        "FROM clause",
    ),
    q(
        "delete rows that have a match in another table (delete with a join)",
        "sql-delete.html",
        "USING clause",
    ),
    q(
        "grab a random 1% of a huge table quickly for testing",
        "sql-select.html tsm-system-rows.html",
        "TABLESAMPLE",
    ),
    q(
        "job queue table: several workers should each grab a different pending row",
        "sql-select.html",
        "SKIP LOCKED",
    ),
    # --- functions and types ---
    q(
        "show a date as 31/12/2023 instead of 2023-12-31",
        "functions-formatting.html",
        "to_char",
    ),
    h(
        "number of days between two dates / how old someone is from birthdate",
        "functions-datetime.html",
        "age(",
    ),
    q(
        "now() returns the same time for every row in my long transaction, I want the real "
        "current time",
        "functions-datetime.html",
        "clock_timestamp",
    ),
    q(
        "should I store timestamps with or without time zone",
        "datatype-datetime.html",
        "timestamptz",
        "UTC",
    ),
    h(
        "replace NULL with 0 in my select output",
        "functions-conditional.html",
        "COALESCE",
    ),
    q(
        "concatenating strings gives NULL when one part is null",
        "functions-string.html",
        "concat_ws",
        "concat(",
    ),
    h(
        "split '2023-01-05' or 'a,b,c' into parts",
        "functions-string.html",
        "split_part",
        "string_to_array",
    ),
    q(
        "regex replace in an update query",
        "functions-matching.html",
        "regexp_replace",
    ),
    q(
        "store JSON from an API and pull out a single field in a query",
        "datatype-json.html functions-json.html",
        "jsonb",
        "->>",
    ),
    q(
        "expand a json array inside a column into one row per element",
        "functions-json.html",
        "jsonb_array_elements",
    ),
    h(
        "check whether an integer array column contains a given value",
        "functions-array.html arrays.html functions-comparisons.html",
        "ANY (",
        "@>",
    ),
    q(
        "column that can only be 'draft', 'published' or 'archived'",
        "datatype-enum.html sql-createtype.html",
        "AS ENUM",
    ),
    q(
        "generate uuids as primary keys without an extension",
        "functions-uuid.html",
        "gen_random_uuid",
    ),
    q(
        "is varchar(255) faster than text?",
        "datatype-character.html",
        "no performance difference",
    ),
    h(
        "which type for prices, float or money or something else",
        "datatype-numeric.html datatype-money.html",
        "monetary amounts",
        "numeric",
    ),
    h(
        "save client IP addresses and query by subnet",
        "datatype-net-types.html functions-net.html",
        "inet",
        "cidr",
    ),
    q(
        "autoincrement primary key like mysql",
        "datatype-numeric.html sql-createtable.html",
        "AS IDENTITY",
        "bigserial",
    ),
    q(
        "after importing data with explicit ids, new inserts fail with duplicate key. fix "
        "the counter?",
        "functions-sequence.html",
        "setval",
    ),
    h(
        "make a table's column names with capital letters work, postgres keeps saying the "
        "column doesn't exist",
        "sql-syntax-lexical.html",
        "folded to lower case",
        "quoted identifier",
    ),
    q(
        "how do I put a single quote (it's) inside a string literal",
        "sql-syntax-lexical.html",
        "dollar quoting",
        "two adjacent single quotes",
    ),
    # --- full text search ---
    q(
        "add google-like search over a table of articles",
        "textsearch-intro.html textsearch-tables.html textsearch-controls.html",
        "to_tsvector",
        "to_tsquery",
    ),
    h(
        "sort my search hits by how relevant they are",
        "textsearch-controls.html",
        "ts_rank",
    ),
    h(
        "searching 'cafe' should also find 'café'",
        "unaccent.html",
        "unaccent",
    ),
    # --- schema design, DDL ---
    q(
        "split a giant events table by month",
        "ddl-partitioning.html sql-createtable.html",
        "PARTITION BY RANGE",
    ),
    q(
        "when a customer is deleted, their orders should go too",
        "ddl-constraints.html",
        "ON DELETE CASCADE",
    ),
    q(
        "make sure end_date is after start_date at the database level",
        "ddl-constraints.html",
        "CHECK (",
    ),
    h(
        "stop two bookings for the same room from overlapping in time",
        "ddl-constraints.html rangetypes.html sql-createtable.html btree-gist.html",
        "EXCLUDE USING gist",
    ),
    q(
        "unique constraint but two NULLs should count as duplicates too",
        "ddl-constraints.html sql-createtable.html sql-createindex.html indexes-unique.html",
        "NULLS NOT DISTINCT",
    ),
    q(
        "column whose value is always computed from two other columns",
        "ddl-generated-columns.html sql-createtable.html",
        "GENERATED ALWAYS AS",
    ),
    q(
        "does ALTER TABLE ADD COLUMN ... DEFAULT rewrite my whole 500GB table",
        "sql-altertable.html",
        "non-volatile default",
        "volatile DEFAULT",
    ),
    h(
        "my materialized view refresh blocks the dashboard reading it",
        "sql-refreshmaterializedview.html",
        "CONCURRENTLY",
    ),
    q(
        "automatically set updated_at whenever a row changes",
        "plpgsql-trigger.html sql-createtrigger.html",
        "RETURNS TRIGGER",
        "BEFORE UPDATE",
    ),
    h(
        "fast scratch table that isn't crash safe, I don't care if I lose it",
        "sql-createtable.html",
        "UNLOGGED",
    ),
    q(
        "table names without the schema prefix aren't found, how does postgres decide where "
        "to look",
        "ddl-schemas.html",
        "search_path",
    ),
    # --- procedural code, transactions, locking ---
    h(
        "run a quick one-off block of procedural code without defining a function",
        "sql-do.html",
        "anonymous code block",
        "DO $$",
    ),
    q(
        "throw my own error with a custom message from a plpgsql function",
        "plpgsql-errors-and-messages.html",
        "RAISE EXCEPTION",
    ),
    q(
        "commit every 10000 rows inside a long running batch job in the database",
        "plpgsql-transactions.html sql-createprocedure.html",
        "transaction control",
        "CREATE PROCEDURE",
    ),
    q(
        "ERROR: deadlock detected, two transactions updating the same rows",
        "explicit-locking.html",
        "deadlock",
        "consistent order",
    ),
    h(
        "getting 'could not serialize access' errors in serializable mode, is my app wrong",
        "transaction-iso.html mvcc-serialization-failure-handling.html",
        "retry",
        "40001",
    ),
    q(
        "undo only part of a transaction when one statement fails",
        "sql-savepoint.html tutorial-transactions.html sql-rollback-to.html",
        "SAVEPOINT",
        "ROLLBACK TO",
    ),
    q(
        "kill queries automatically if they take longer than 30 seconds",
        "runtime-config-client.html",
        "statement_timeout",
    ),
    h(
        "sessions sit 'idle in transaction' for hours holding locks",
        "runtime-config-client.html",
        "idle_in_transaction_session_timeout",
    ),
    h(
        "push a message to my app when a row is inserted, without polling",
        "sql-notify.html sql-listen.html",
        "NOTIFY",
        "pg_notify",
    ),
    # --- users, security, auth ---
    q(
        "create a login that can read every table but change nothing, for our BI tool",
        "predefined-roles.html sql-grant.html",
        "pg_read_all_data",
        "ALL TABLES IN SCHEMA",
    ),
    q(
        "granted select on all tables, but new tables created later aren't readable",
        "sql-alterdefaultprivileges.html",
        "ALTER DEFAULT PRIVILEGES",
    ),
    h(
        "each tenant should only ever see its own rows in a shared table",
        "ddl-rowsecurity.html sql-createpolicy.html",
        "ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY",
    ),
    q(
        "cannot drop a user because objects depend on it",
        "role-removal.html sql-drop-owned.html sql-reassign-owned.html",
        "REASSIGN OWNED",
        "DROP OWNED",
    ),
    q(
        "change my password from psql without it ending up in the history file",
        "app-psql.html sql-alterrole.html",
        "\\password",
    ),
    q(
        "should I switch from md5 passwords to something better",
        "auth-password.html",
        "scram-sha-256",
        "password_encryption",
    ),
    h(
        "connecting from another machine fails, the error says there's no pg_hba.conf entry",
        "client-authentication-problems.html auth-pg-hba-conf.html",
        "pg_hba.conf",
    ),
    q(
        "other machines can't connect at all, looks like postgres only listens on localhost",
        "runtime-config-connection.html",
        "listen_addresses",
    ),
    q(
        "psql -U postgres says peer authentication failed",
        "auth-peer.html auth-pg-hba-conf.html",
        "operating system user name",
    ),
    q(
        "force clients to use encrypted connections",
        "ssl-tcp.html auth-pg-hba-conf.html libpq-ssl.html",
        "hostssl",
        "sslmode",
    ),
    h(
        "store password hashes in a table with bcrypt-style salting",
        "pgcrypto.html",
        "crypt(",
        "gen_salt",
    ),
    q(
        "FATAL: sorry, too many clients already",
        "runtime-config-connection.html",
        "max_connections",
    ),
    # --- clients, psql, libpq ---
    q(
        "in psql how do i list the tables",
        "app-psql.html",
        "\\dt",
    ),
    h(
        "run a .sql script from the command line with psql",
        "app-psql.html",
        "-f filename",
        "\\i",
    ),
    h(
        "dump what a select returns into a csv on my laptop, not on the server",
        "app-psql.html sql-copy.html",
        "\\copy",
    ),
    q(
        "import a big csv file into a table",
        "sql-copy.html app-psql.html populate.html",
        "FORMAT csv",
        "\\copy",
    ),
    q(
        "don't want to type my db password every time I connect",
        "libpq-pgpass.html",
        ".pgpass",
        "hostname:port:database:username:password",
    ),
    q(
        "what does a postgres connection URI look like with user, host and dbname",
        "libpq-connect.html",
        "postgresql://",
    ),
    h(
        "query a table that lives in a different postgres database as if it were local",
        "postgres-fdw.html dblink.html",
        "postgres_fdw",
        "dblink",
    ),
    q(
        "send a batch of queries without waiting for each result with libpq",
        "libpq-pipeline-mode.html",
        "pipeline mode",
    ),
    q(
        "load test my server with a bunch of concurrent fake clients",
        "pgbench.html",
        "pgbench",
    ),
    # --- configuration, server admin ---
    q(
        "changed postgresql.conf, do i need a full restart?",
        "config-setting.html functions-admin.html",
        "pg_reload_conf",
        "SIGHUP",
    ),
    h(
        "change a server setting with a SQL command and keep it after restart",
        "sql-altersystem.html config-setting.html",
        "ALTER SYSTEM",
        "postgresql.auto.conf",
    ),
    q(
        "shutting down the server: what's the difference between smart, fast and immediate",
        "server-shutdown.html app-pg-ctl.html",
        "Fast Shutdown",
        "Immediate Shutdown",
    ),
    h(
        "my deploy script should wait until the db accepts connections",
        "app-pg-isready.html",
        "pg_isready",
    ),
    q(
        "create a new database cluster from scratch in a directory",
        "app-initdb.html creating-cluster.html",
        "initdb",
    ),
    h(
        "pg_wal directory keeps growing and fills the disk",
        "runtime-config-replication.html wal-configuration.html runtime-config-wal.html",
        "max_slot_wal_keep_size",
        "max_wal_size",
    ),
    q(
        "turn on checksums on an existing cluster to catch disk corruption",
        "app-pgchecksums.html checksums.html",
        "pg_checksums",
    ),
    q(
        "faster commits if I accept losing the last few transactions on a crash",
        "wal-async-commit.html runtime-config-wal.html",
        "synchronous_commit",
    ),
    q(
        "new database should be UTF8 but the default template is something else",
        "multibyte.html sql-createdatabase.html manage-ag-templatedbs.html",
        "template0",
        "ENCODING",
    ),
    # --- backup, restore, upgrade, replication ---
    h(
        "how do I make a copy of my database to move it to another server",
        "backup-dump.html app-pgdump.html",
        "pg_dump",
    ),
    h(
        "restore a dump made with pg_dump -Fc",
        "app-pgrestore.html backup-dump.html",
        "pg_restore",
    ),
    q(
        "dump just the table definitions, no data",
        "app-pgdump.html",
        "--schema-only",
    ),
    q(
        "my dump restores fine but all the users/roles are missing",
        "app-pg-dumpall.html backup-dump.html",
        "pg_dumpall",
        "--globals-only",
    ),
    h(
        "someone dropped a table at 14:05, can I restore the db to 14:04",
        "continuous-archiving.html runtime-config-wal.html",
        "recovery_target_time",
    ),
    q(
        "check that a base backup isn't corrupted before I rely on it",
        "app-pgverifybackup.html",
        "pg_verifybackup",
    ),
    q(
        "set up a read only copy of the database on a second server that stays in sync",
        "warm-standby.html hot-standby.html app-pgbasebackup.html",
        "primary_conninfo",
        "standby.signal",
    ),
    q(
        "primary died, how do I turn the standby into the new primary",
        "warm-standby-failover.html functions-admin.html app-pg-ctl.html",
        "pg_promote",
        "pg_ctl promote",
    ),
    h(
        "don't want to lose a single committed transaction if the primary crashes",
        "warm-standby.html runtime-config-replication.html",
        "synchronous_standby_names",
    ),
    q(
        "replicate only a couple of tables to another server (different major version)",
        "logical-replication-quick-setup.html logical-replication-publication.html "
        "sql-createpublication.html logical-replication-subscription.html "
        "sql-createsubscription.html",
        "CREATE PUBLICATION",
        "CREATE SUBSCRIPTION",
    ),
    q(
        "move from version 14 to 15 without a long dump and restore",
        "pgupgrade.html upgrading.html",
        "pg_upgrade",
    ),
    q(
        "install an extension like pgcrypto or pg_trgm into my database",
        "sql-createextension.html contrib.html",
        "CREATE EXTENSION",
    ),
    h(
        "write a database function in python",
        "plpython.html plpython-funcs.html",
        "plpython3u",
    ),
    h(
        "read a csv file on the server as if it were a table, without importing it",
        "file-fdw.html",
        "file_fdw",
    ),
    q(
        "embed SQL statements directly in a C program",
        "ecpg-concept.html",
        "EXEC SQL",
    ),
)

UNANSWERABLE: tuple[Question, ...] = (
    u("how much does a db.r6g.large postgres instance on AWS RDS cost per month"),
    u("how do I configure pgbouncer for transaction pooling"),
    uh("set up Patroni with etcd for automatic failover"),
    u("what's the best way to migrate my data from MongoDB to postgres"),
    u("can I get dark mode in pgAdmin 4"),
    uh("supabase RLS policy using auth.uid() isn't working"),
    u("is postgres or mysql better for a startup"),
    u("timescaledb compression policy for hypertables"),
    uh("how do I shard a table across nodes with citus"),
    u("django settings.py DATABASES config for postgres"),
    uh("psycopg2 vs asyncpg, which driver is faster"),
    uh("pgvector cosine similarity index for my embeddings"),
    u("max connections allowed on each Azure flexible server tier"),
    u("when will postgres 18 be released"),
    uh("pg_partman automatic partition maintenance setup"),
    u("prisma migrate fails with shadow database error"),
    u("back up to S3 with pgBackRest or wal-g, which one"),
    uh("run postgres in docker with a persistent volume"),
    u("how do I connect Power BI to my postgres database through a gateway"),
    u("stream row changes to kafka with debezium"),
    u("DBeaver keeps timing out when connecting to my database"),
    # Added for calibrating the answers' I-don't-know rule (bench/answers), written before any
    # of them was asked: near the docs' subjects, answered only by other projects' docs.
    u("PostGIS distance between two lat/long points in meters"),
    u("schedule a nightly cleanup job inside the database with pg_cron"),
    u("what's new for logical replication in postgres 16"),
    u("Django JSONField filter on a nested key with the ORM"),
    u("Redshift distribution key choice for a big fact table"),
    u("Heroku postgres connection limit per plan"),
    u("pgAdmin query tool shows only 1000 rows, show all"),
    u("hasura permissions on a postgres view"),
    u("read replica lag on Google Cloud SQL dashboard"),
    u("SQLAlchemy async engine with asyncpg pool size for postgres"),
)

POSTGRES15 = QuestionSet(
    name="postgres15-visitors",
    site_root=SITE_ROOT,
    questions=ANSWERABLE + UNANSWERABLE + FRESH,
)
