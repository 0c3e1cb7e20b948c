"""The role decision for every endpoint of the API, core and plugins.

A new endpoint fails ``test_role_matrix`` until a line for it is added here: the decision
of who may call it is made on purpose, in review, not by a default.

Roles: ``admin`` configures; ``user`` forecasts, edits and creates views; ``viewer_analytics``
(Gainsight's Viewer+Analytics) reads, uses Analyze through shared views (filters,
drill-down, export) and may log and comment on Timeline entries, nothing else.
"""

ALL = "admin user viewer_analytics"
WRITE = "admin user"
ADMIN = "admin"

MATRIX: dict[str, str] = {
    # tenant
    "GET /me": ALL,
    "GET /plugins": ADMIN,
    # relationships and companies (domain core)
    "GET /relationship-types": ALL,
    "POST /relationship-types": ADMIN,
    "GET /relationship-types/<int:type_id>": ALL,
    "PATCH /relationship-types/<int:type_id>": ADMIN,
    "DELETE /relationship-types/<int:type_id>": ADMIN,
    "GET /relationships": ALL,
    "POST /relationships": WRITE,
    "GET /relationships/<int:relationship_id>": ALL,
    "PATCH /relationships/<int:relationship_id>": WRITE,
    "DELETE /relationships/<int:relationship_id>": WRITE,
    "GET /relationships/<int:relationship_id>/360": ALL,
    "GET /relationship-rules": ALL,
    "POST /relationship-rules": ADMIN,
    "DELETE /relationship-rules/<int:rule_id>": ADMIN,
    "POST /relationship-rules/apply": ADMIN,
    "GET /companies": ALL,
    "POST /companies": WRITE,
    "GET /companies/<int:company_id>": ALL,
    "PATCH /companies/<int:company_id>": WRITE,
    "PUT /companies/<int:company_id>/parent": WRITE,
    "GET /companies/<int:company_id>/hierarchy": ALL,
    "POST /companies/hierarchy/link": ADMIN,
    "GET /companies/<int:company_id>/360": ALL,
    # Renewal Center: catalogs and settings
    "GET /renewals/fields": ALL,
    "GET /renewals/measures": ALL,
    "GET /renewals/settings": WRITE,
    "PUT /renewals/settings": ADMIN,
    # Renewal Center: the forecast page and opportunities (no Viewer+Analytics)
    "GET /renewals/forecast": WRITE,
    "GET /renewals/metrics": WRITE,
    "GET /renewals/opportunities": WRITE,
    "POST /renewals/opportunities": WRITE,
    "GET /renewals/opportunities/<int:opportunity_id>": WRITE,
    "PATCH /renewals/opportunities/<int:opportunity_id>": WRITE,
    "GET /renewals/opportunities/<int:opportunity_id>/calls": WRITE,
    "POST /renewals/opportunities/<int:opportunity_id>/calls": WRITE,
    # Renewal Center: Analyze (Viewer+Analytics reads shared views, filters, drills, exports)
    "GET /renewals/views": ALL,
    "POST /renewals/views": WRITE,
    "GET /renewals/views/<int:view_id>": ALL,
    "PATCH /renewals/views/<int:view_id>": WRITE,
    "DELETE /renewals/views/<int:view_id>": WRITE,
    "GET /renewals/views/<int:view_id>/data": ALL,
    "GET /renewals/views/<int:view_id>/widgets/<int:widget_id>/drilldown": ALL,
    "GET /renewals/views/<int:view_id>/widgets/<int:widget_id>/drilldown.csv": ALL,
    "GET /renewals/drilldown": WRITE,
    "GET /renewals/drilldown.csv": WRITE,
    # Renewal Center: risk and the model
    "GET /renewals/risk": WRITE,
    "GET /renewals/opportunities/<int:opportunity_id>/risk": WRITE,
    "GET /renewals/models": WRITE,
    "GET /renewals/models/<int:version>": WRITE,
    "POST /renewals/models/train": ADMIN,
    # Timeline plugin (Viewer+Analytics may view, log and comment)
    "GET /activities": ALL,
    "POST /activities": ALL,
    "GET /activities/<int:activity_id>": ALL,
    "PATCH /activities/<int:activity_id>": ALL,
    "DELETE /activities/<int:activity_id>": ALL,
    "GET /activity-types": ALL,
    "POST /activity-types": ADMIN,
    "DELETE /activity-types/<int:type_id>": ADMIN,
    # Scorecards plugin
    "GET /scorecards": ALL,
    "POST /scorecards": ADMIN,
    "PUT /scorecards/<name>": ADMIN,
    "DELETE /scorecards/<name>": ADMIN,
    "GET /health-measures": ALL,
    "GET /scores": ALL,
    "POST /scores/run": WRITE,
    "GET /scores/<entity>/<int:entity_id>": ALL,
    "GET /scores/<entity>/<int:entity_id>/history": ALL,
    "POST /scores/<entity>/<int:entity_id>/overrides": WRITE,
    # Cockpit plugin (Viewer+Analytics reads CTAs and their linked opportunities, changes nothing)
    "GET /cockpit/ctas": ALL,
    "POST /cockpit/ctas": WRITE,
    "GET /cockpit/ctas/<int:cta_id>": ALL,
    "PATCH /cockpit/ctas/<int:cta_id>": WRITE,
    "DELETE /cockpit/ctas/<int:cta_id>": ADMIN,
    "POST /cockpit/ctas/<int:cta_id>/close": WRITE,
    "POST /cockpit/ctas/<int:cta_id>/reopen": WRITE,
    "GET /cockpit/ctas/<int:cta_id>/opportunities": ALL,
    "PUT /cockpit/ctas/<int:cta_id>/opportunities": WRITE,
    "POST /cockpit/ctas/<int:cta_id>/playbook": WRITE,
    "POST /cockpit/ctas/<int:cta_id>/tasks": WRITE,
    "POST /cockpit/ctas/<int:cta_id>/comments": WRITE,
    "PATCH /cockpit/tasks/<int:task_id>": WRITE,
    "DELETE /cockpit/tasks/<int:task_id>": WRITE,
    "GET /cockpit/playbooks": ALL,
    "POST /cockpit/playbooks": ADMIN,
    "PUT /cockpit/playbooks/<name>": ADMIN,
    "DELETE /cockpit/playbooks/<name>": ADMIN,
    "GET /cockpit/rules": ALL,
    "POST /cockpit/rules": ADMIN,
    "PUT /cockpit/rules/<name>": ADMIN,
    "DELETE /cockpit/rules/<name>": ADMIN,
    "POST /cockpit/rules/run": ADMIN,
    "GET /cockpit/conditions": ALL,
    "GET /cockpit/settings": ALL,
}

# The only writes Viewer+Analytics may make: logging and commenting on Timeline entries.
VIEWER_WRITES = {
    "POST /activities",
    "PATCH /activities/<int:activity_id>",
    "DELETE /activities/<int:activity_id>",
}
