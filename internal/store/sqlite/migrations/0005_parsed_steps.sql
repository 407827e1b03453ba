-- parsed: the step as the playbook parser left it, with where its
-- placeholders are, so that it runs without being parsed again.
ALTER TABLE steps ADD COLUMN parsed TEXT;
