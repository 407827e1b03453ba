# Generates internal/httpapi/openapi.json, the API description served at
# /api/v1/openapi.json:  python3 scripts/openapi.py > internal/httpapi/openapi.json
# TestMetricsAndOpenAPI checks that every operation it documents is served.
import json
def ref(n): return {"$ref": "#/components/schemas/"+n}
def resp(desc, schema=None, code="200"):
    r={"description":desc}
    if schema: r["content"]={"application/json":{"schema":schema}}
    return {code:r}
errs={"400":{"$ref":"#/components/responses/Invalid"},"401":{"$ref":"#/components/responses/Unauthorized"},"403":{"$ref":"#/components/responses/Forbidden"}}
def op(summary, role, responses, params=None, body=None, tags=None, extra_err=None):
    o={"summary":summary,"description":"Needs a token with role **%s** or higher."%role if role else "No token needed.","responses":dict(responses)}
    if role: o["responses"].update(errs)
    else: o["security"]=[]
    if extra_err: o["responses"].update(extra_err)
    if params: o["parameters"]=params
    if body: o["requestBody"]={"required":True,"content":{"application/json":{"schema":body}}}
    if tags: o["tags"]=tags
    return o
idp={"name":"id","in":"path","required":True,"schema":{"type":"integer","minimum":1}}
def q(name, desc, schema=None): return {"name":name,"in":"query","schema":schema or {"type":"string"},"description":desc}
limit=q("limit","Page size, 1-500 (default 50).",{"type":"integer","minimum":1,"maximum":500})
cursor=q("cursor","The next_cursor of the previous page.")
nf={"404":{"$ref":"#/components/responses/NotFound"}}
conf={"409":{"$ref":"#/components/responses/Conflict"}}
ingest_resp=resp("Committed. Sent only after the alerts are durably stored.",ref("IngestResult"))
ingest_err={"413":{"$ref":"#/components/responses/TooLarge"},"503":{"$ref":"#/components/responses/Unavailable"}}
def ingest(src, schema_desc):
    return {"post":op("Receive %s alerts"%src,"an integration key of source %s, or responder"%src.lower().replace(" ",""),ingest_resp,
        body={"type":"object","description":schema_desc},tags=["intake"],extra_err=ingest_err)}
paths={
 "/healthz":{"get":op("Liveness",None,resp("Alive",{"type":"object"}),tags=["health"])},
 "/readyz":{"get":op("Readiness: the database answers",None,{**resp("Ready",{"type":"object"}),"503":{"description":"Not ready"}},tags=["health"])},
 "/metrics":{"get":op("Prometheus metrics (text format)","viewer",{"200":{"description":"Prometheus text exposition","content":{"text/plain":{"schema":{"type":"string"}}}}},tags=["health"])},
 "/api/v1/ingest/alertmanager":ingest("Alertmanager","Alertmanager webhook v4 body."),
 "/api/v1/ingest/grafana":ingest("Grafana","Grafana unified alerting webhook body."),
 "/api/v1/ingest/generic":ingest("generic","Generic JSON: {\"alerts\":[{\"name\":…}]} or one alert object; see the README."),
 "/api/v1/ingest/pagerduty":{"post":{"summary":"PagerDuty Events API v2","description":"The integration key goes in routing_key (a Bearer header also works).","security":[],"tags":["intake"],
    "requestBody":{"required":True,"content":{"application/json":{"schema":ref("PagerDutyEvent")}}},
    "responses":{"202":{"description":"Event processed","content":{"application/json":{"schema":ref("PagerDutyAccepted")}}},
                 "400":{"description":"Invalid event","content":{"application/json":{"schema":ref("PagerDutyError")}}},
                 "401":{"description":"Invalid routing key","content":{"application/json":{"schema":ref("PagerDutyError")}}},
                 "413":{"description":"Too large","content":{"application/json":{"schema":ref("PagerDutyError")}}}}}},
 "/v2/enqueue":{"post":{"summary":"PagerDuty Events API v2 (PagerDuty's own path)","description":"Same as /api/v1/ingest/pagerduty.","security":[],"tags":["intake"],
    "requestBody":{"required":True,"content":{"application/json":{"schema":ref("PagerDutyEvent")}}},
    "responses":{"202":{"description":"Event processed","content":{"application/json":{"schema":ref("PagerDutyAccepted")}}},
                 "400":{"description":"Invalid event","content":{"application/json":{"schema":ref("PagerDutyError")}}}}}},
 "/api/v1/incidents":{"get":op("List incidents, newest first","viewer",resp("A page of incidents",{"type":"object","properties":{"incidents":{"type":"array","items":ref("Incident")},"next_cursor":{"type":"string"}}}),
    params=[q("status","Comma-separated: triggered, acknowledged, resolved, open."),q("severity","Comma-separated: critical, warning, info."),q("service","Exact service."),limit,cursor],tags=["incidents"])},
 "/api/v1/incidents/{id}":{
    "get":op("An incident with its first 100 alerts","viewer",resp("The incident",{"type":"object","properties":{"incident":ref("Incident"),"alerts":{"type":"array","items":ref("Alert")},"alerts_truncated":{"type":"boolean"}}}),params=[idp],tags=["incidents"],extra_err=nf),
    "patch":op("Set impact and ETA","responder",resp("Updated",ref("IncidentEnvelope")),params=[idp],body={"type":"object","properties":{"impact":{"type":"string"},"eta":{"type":"string"}}},tags=["incidents"],extra_err=nf)},
 "/api/v1/incidents/{id}/alerts":{"get":op("Page through an incident's alerts","viewer",resp("A page of alerts",{"type":"object","properties":{"alerts":{"type":"array","items":ref("Alert")},"next_cursor":{"type":"string"}}}),params=[idp,q("status","firing or resolved"),limit,cursor],tags=["incidents"],extra_err=nf)},
 "/api/v1/incidents/{id}/timeline":{"get":op("The append-only timeline, oldest first","viewer",resp("Timeline",{"type":"object","properties":{"timeline":{"type":"array","items":ref("TimelineEntry")},"next_cursor":{"type":"string"}}}),params=[idp,limit,cursor],tags=["incidents"],extra_err=nf)},
 "/api/v1/incidents/{id}/ack":{"post":op("Acknowledge","responder",resp("Acknowledged",ref("IncidentEnvelope")),params=[idp],tags=["incidents"],extra_err={**nf,**conf})},
 "/api/v1/incidents/{id}/resolve":{"post":op("Resolve (its firing alerts are closed)","responder",resp("Resolved",ref("IncidentEnvelope")),params=[idp],tags=["incidents"],extra_err={**nf,**conf})},
 "/api/v1/incidents/{id}/reopen":{"post":op("Reopen a resolved incident","responder",resp("Reopened",ref("IncidentEnvelope")),params=[idp],tags=["incidents"],extra_err={**nf,**conf})},
 "/api/v1/incidents/{id}/assign":{"post":op("Assign a responder","responder",resp("Assigned",ref("IncidentEnvelope")),params=[idp],body={"type":"object","properties":{"responder":{"type":"string"}}},tags=["incidents"],extra_err=nf)},
 "/api/v1/incidents/{id}/notes":{"post":op("Add a note to the timeline","responder",resp("Added",ref("IncidentEnvelope"),"201"),params=[idp],body={"type":"object","required":["text"],"properties":{"text":{"type":"string","maxLength":10000}}},tags=["incidents"],extra_err=nf)},
 "/api/v1/tokens":{"get":op("List API tokens (never their secrets)","admin",resp("Tokens",{"type":"object","properties":{"tokens":{"type":"array","items":ref("Token")}}}),tags=["admin"]),
    "post":op("Create an API token; the key is shown once","admin",resp("Created",ref("CreatedToken"),"201"),body={"type":"object","required":["name","role"],"properties":{"name":{"type":"string"},"role":{"type":"string","enum":["viewer","responder","admin"]}}},tags=["admin"],extra_err=conf)},
 "/api/v1/tokens/{id}":{"delete":op("Revoke a token","admin",{"204":{"description":"Revoked"}},params=[idp],tags=["admin"],extra_err=nf)},
 "/api/v1/integrations":{"get":op("List integration keys","admin",resp("Integrations",{"type":"object","properties":{"integrations":{"type":"array","items":ref("Token")}}}),tags=["admin"]),
    "post":op("Create an integration key for one source; shown once","admin",resp("Created",ref("CreatedToken"),"201"),body={"type":"object","required":["name","source"],"properties":{"name":{"type":"string"},"source":{"type":"string","enum":["alertmanager","pagerduty","grafana","generic"]}}},tags=["admin"],extra_err=conf)},
 "/api/v1/integrations/{id}":{"delete":op("Revoke an integration key","admin",{"204":{"description":"Revoked"}},params=[idp],tags=["admin"],extra_err=nf)},
 "/api/v1/whoami":{"get":op("The token's name and role","viewer",resp("Principal",{"type":"object","properties":{"name":{"type":"string"},"role":{"type":"string"}}}),tags=["admin"])},
 "/api/v1/playbooks":{"get":op("Loaded playbooks","viewer",resp("Playbooks",{"type":"object","properties":{"playbooks":{"type":"array","items":ref("PlaybookSummary")}}}),tags=["playbooks"])},
 "/api/v1/playbooks/{id}":{"get":op("A playbook's full parsed structure","viewer",resp("Playbook",{"type":"object"}),params=[{"name":"id","in":"path","required":True,"schema":{"type":"string"}}],tags=["playbooks"],extra_err=nf)},
 "/api/v1/incidents/{id}/steps":{"get":op("The incident's playbook runs and steps","viewer",resp("Runs and steps",{"type":"object","properties":{"runs":{"type":"array","items":ref("Run")},"steps":{"type":"array","items":ref("Step")}}}),params=[idp],tags=["steps"],extra_err=nf)},
 "/api/v1/steps/{id}":{"get":op("A step with a preview of exactly what will run","viewer",resp("Step",{"type":"object","properties":{"step":ref("Step")}}),params=[idp],tags=["steps"],extra_err=nf)},
 "/api/v1/steps/{id}/approve":{"post":op("Approve a step waiting for approval; fill parameters and optionally edit its text (re-classified, diff recorded)","a role listed in approvals.roles (default responder, admin)",resp("Approved",{"type":"object","properties":{"step":ref("Step")}}),params=[idp],body=ref("Decision"),tags=["steps"],extra_err={**nf,**conf})},
 "/api/v1/steps/{id}/reject":{"post":op("Reject a waiting step","a role listed in approvals.roles",resp("Rejected",{"type":"object","properties":{"step":ref("Step")}}),params=[idp],body=ref("Decision"),tags=["steps"],extra_err={**nf,**conf})},
 "/api/v1/steps/{id}/run":{"post":op("Run a read step now (or again); a write step goes back to awaiting approval","responder",resp("Queued",{"type":"object","properties":{"step":ref("Step")}}),params=[idp],body=ref("Decision"),tags=["steps"],extra_err={**nf,**conf})},
 "/api/v1/steps/{id}/done":{"post":op("Tick a checklist or manual task as done","responder",resp("Done",{"type":"object","properties":{"step":ref("Step")}}),params=[idp],body=ref("Decision"),tags=["steps"],extra_err={**nf,**conf})},
 "/api/v1/steps/{id}/skip":{"post":op("Skip a task","responder",resp("Skipped",{"type":"object","properties":{"step":ref("Step")}}),params=[idp],body=ref("Decision"),tags=["steps"],extra_err={**nf,**conf})},
 "/api/v1/automation":{"get":op("Whether the automation kill switch is on","viewer",resp("State",{"type":"object","properties":{"paused":{"type":"boolean"}}}),tags=["steps"])},
 "/api/v1/automation/pause":{"post":op("Turn the kill switch on: no step runs","admin",resp("Paused",{"type":"object","properties":{"paused":{"type":"boolean"}}}),tags=["steps"])},
 "/api/v1/automation/resume":{"post":op("Turn the kill switch off","admin",resp("Resumed",{"type":"object","properties":{"paused":{"type":"boolean"}}}),tags=["steps"])},
 "/api/v1/playbook-versions/{hash}":{"get":op("The exact playbook text a run used, by the playbook_hash its run records","viewer",resp("The version",{"type":"object","properties":{"version":{"type":"object"},"content":{"type":"string"}}}),params=[{"name":"hash","in":"path","required":True,"schema":{"type":"string"}},q("format","markdown for the raw text")],tags=["playbooks"],extra_err=nf)},
 "/api/v1/openapi.json":{"get":op("This document","viewer",resp("OpenAPI document",{"type":"object"}),tags=["health"])},
}
ts={"type":"string","format":"date-time"}
schemas={
 "Error":{"type":"object","required":["error"],"properties":{"error":{"type":"object","required":["code","message"],"properties":{"code":{"type":"string","enum":["invalid","unauthorized","forbidden","not_found","conflict","too_large","unavailable","internal"]},"message":{"type":"string","description":"Names the field at fault and why."}}}}},
 "IngestResult":{"type":"object","properties":{"status":{"const":"success"},"alerts":{"type":"integer"},"outcomes":{"type":"object","additionalProperties":{"type":"integer"},"description":"Count per outcome: opened, grouped, repeat, resolved, acknowledged, ignored."},"incidents":{"type":"array","items":{"type":"integer"}}}},
 "Incident":{"type":"object","properties":{"id":{"type":"integer"},"title":{"type":"string"},"severity":{"enum":["critical","warning","info"]},"service":{"type":"string"},"status":{"enum":["triggered","acknowledged","resolved"]},"group_key":{"type":"string"},"group_labels":{"type":"object","additionalProperties":{"type":"string"}},"responder":{"type":"string"},"impact":{"type":"string"},"eta":{"type":"string"},"alert_count":{"type":"integer"},"firing_count":{"type":"integer"},"repeats":{"type":"integer"},"started_at":ts,"acknowledged_at":ts,"resolved_at":ts,"updated_at":ts}},
 "IncidentEnvelope":{"type":"object","properties":{"incident":ref("Incident")}},
 "Alert":{"type":"object","properties":{"id":{"type":"integer"},"incident_id":{"type":"integer"},"source":{"type":"string"},"fingerprint":{"type":"string"},"status":{"enum":["firing","resolved"]},"name":{"type":"string"},"summary":{"type":"string"},"severity":{"type":"string"},"labels":{"type":"object","additionalProperties":{"type":"string"}},"annotations":{"type":"object","additionalProperties":{"type":"string"}},"generator_url":{"type":"string"},"links":{"type":"array","items":{"type":"object","properties":{"href":{"type":"string"},"text":{"type":"string"}}}},"details":{"type":"object"},"starts_at":ts,"ends_at":ts,"count":{"type":"integer","description":"Times received, the first included."},"last_seen_at":ts,"resolved_at":ts}},
 "TimelineEntry":{"type":"object","properties":{"id":{"type":"integer"},"incident_id":{"type":"integer"},"at":ts,"actor":{"type":"string"},"kind":{"type":"string"},"message":{"type":"string"},"data":{"type":"object"}}},
 "Token":{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"},"role":{"enum":["viewer","responder","admin","ingest"]},"source":{"type":"string"},"prefix":{"type":"string"},"created_at":ts,"created_by":{"type":"string"},"revoked_at":ts}},
 "CreatedToken":{"allOf":[ref("Token"),{"type":"object","properties":{"key":{"type":"string","description":"The secret; shown only in this answer."}}}]},
 "PagerDutyEvent":{"type":"object","required":["routing_key","event_action"],"properties":{"routing_key":{"type":"string"},"event_action":{"enum":["trigger","acknowledge","resolve"]},"dedup_key":{"type":"string"},"payload":{"type":"object","properties":{"summary":{"type":"string"},"source":{"type":"string"},"severity":{"enum":["critical","error","warning","info"]},"timestamp":ts,"component":{"type":"string"},"group":{"type":"string"},"class":{"type":"string"},"custom_details":{}}},"links":{"type":"array"},"images":{"type":"array"}}},
 "PagerDutyAccepted":{"type":"object","properties":{"status":{"const":"success"},"message":{"const":"Event processed"},"dedup_key":{"type":"string"}}},
 "PagerDutyError":{"type":"object","properties":{"status":{"type":"string"},"message":{"type":"string"},"errors":{"type":"array","items":{"type":"string"}}}},
 "PlaybookSummary":{"type":"object"},
 "Run":{"type":"object","properties":{"id":{"type":"integer"},"incident_id":{"type":"integer"},"playbook_id":{"type":"string"},"playbook_hash":{"type":"string","description":"sha256 of the exact playbook text the run used"},"procedure_key":{"type":"string"},"procedure_title":{"type":"string"},"match_reason":{"type":"string"},"two_person":{"type":"boolean"},"created_at":ts}},
 "Step":{"type":"object","properties":{"id":{"type":"integer"},"run_id":{"type":"integer"},"incident_id":{"type":"integer"},"position":{"type":"integer"},"task_key":{"type":"string"},"section":{"type":"string"},"name":{"type":"string"},"kind":{"enum":["step","manual","checklist"]},"executor":{"enum":["sql","shell","kube"]},"risk":{"enum":["read","write"]},
   "status":{"enum":["pending","running","succeeded","failed","awaiting_approval","needs_input","interrupted","cancelled","skipped"]},"reason":{"type":"string"},"auto":{"type":"boolean"},"language":{"type":"string"},"text":{"type":"string"},"edited":{"type":"boolean"},"target":{"type":"string"},"namespace":{"type":"string"},
   "params":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"type":{"type":"string"},"value":{"type":"string"},"from":{"type":"string"},"choices":{"type":"array","items":{"type":"string"}}}}},
   "approvals":{"type":"array","items":{"type":"object","properties":{"actor":{"type":"string"},"at":ts}}},"approvers_needed":{"type":"integer"},"approval_expires_at":ts,"attempts":{"type":"integer"},"max_attempts":{"type":"integer"},"timeout":{"type":"string"},
   "result":{"type":"object","properties":{"columns":{"type":"array","items":{"type":"string"}},"rows":{"type":"array","items":{"type":"array"}},"rows_affected":{"type":"integer"},"output":{"type":"string"},"exit_code":{"type":"integer"},"truncated":{"type":"boolean"},"before":{"type":"string"},"after":{"type":"string"},"undo":{"type":"string"},"duration":{"type":"string"}}},
   "error":{"type":"string"},"actor":{"type":"string"},"preview":{"type":"object","description":"Exactly what will run: SQL with its bind values alongside, the script with its environment, kube commands, target and namespace."}}},
 "Decision":{"type":"object","properties":{"params":{"type":"object","additionalProperties":{"type":"string"}},"text":{"type":"string","description":"Replacement text; re-classified, and the diff goes on the timeline"},"reason":{"type":"string"}}},
}
def er(d): return {"description":d,"content":{"application/json":{"schema":ref("Error")}}}
doc={"openapi":"3.1.0","info":{"title":"Firebreak API","version":"1","description":"Incident-response engine: alert intake, incidents, playbooks. Every endpoint but /healthz and /readyz needs `Authorization: Bearer <token>`. Errors are {\"error\":{\"code\",\"message\"}}."},
 "servers":[{"url":"http://127.0.0.1:8080"}],
 "security":[{"bearer":[]}],
 "paths":paths,
 "components":{"securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}},"schemas":schemas,
  "responses":{"Invalid":er("Bad input; the message names the field and why"),"Unauthorized":er("Missing, invalid or revoked token"),"Forbidden":er("The token's role does not allow this"),"NotFound":er("No such object"),"Conflict":er("The action conflicts with the current state"),"TooLarge":er("Body over the limit (default 5 MiB)"),"Unavailable":er("A fault worth retrying; see Retry-After")}}}
print(json.dumps(doc,indent=1))
