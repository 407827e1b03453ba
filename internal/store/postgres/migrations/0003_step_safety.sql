-- approvers_rule: the approvals a step's procedure asks for once the step
-- needs approval (1, or 2 for two-person procedures).
-- proc: where a running shell step's processes are, for crash recovery.
ALTER TABLE steps ADD COLUMN approvers_rule integer NOT NULL DEFAULT 1;
ALTER TABLE steps ADD COLUMN proc json;
