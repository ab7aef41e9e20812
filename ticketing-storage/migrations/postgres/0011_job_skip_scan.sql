-- A claim finds the most urgent due job of its kinds by a skip scan of `jobs_next` (each kind's
-- priorities, then each priority's first due job): `jobs_due` serves no query any more, and every
-- job written paid for its entry.
DROP INDEX jobs_due;
