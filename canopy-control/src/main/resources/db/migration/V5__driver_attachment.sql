-- Which server's supervisor started or re-attached to the job's current driver (NULL between a take-over and
-- the new holder's attach), and how many drivers were started for the job: the cap on restarts counts these.
ALTER TABLE jobs ADD COLUMN attached_by TEXT;
ALTER TABLE jobs ADD COLUMN launches INT NOT NULL DEFAULT 0;
