-- A claim reads the most urgent due job of its kinds in index order: by kind, then priority,
-- due time and age, among queued jobs. `jobs_due` (kind, due time) still serves claims of several
-- kinds whose jobs are mostly not due yet (holds' ends).
CREATE INDEX jobs_next ON jobs (kind, priority DESC, run_at, seq) WHERE status = 'queued';
