-- What a user chose to show: their status (online, away, invisible) and
-- whether their reads send receipts. Redis caches both per user; this is
-- what a Redis that lost its data reads them back from.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'online';
ALTER TABLE users ADD COLUMN receipts INTEGER NOT NULL DEFAULT 1;
