-- Jobs the server did not run but found on start: batch-inference folders under the Canopy home made by
-- 'canopy infer' or 'canopy demo'. Read-only: the row points at the folder, whose files stay the truth.
ALTER TABLE jobs ADD COLUMN indexed_from TEXT UNIQUE;
