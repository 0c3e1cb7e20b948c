"""The standard objects the fake org starts with, and their default picklists and stages.

Picklists and the stage table follow a fresh Salesforce org (the CumulusCI describe
recordings cited in shared/reference/salesforce-api.md §4); ``Renewal`` is added to
Opportunity.Type because customer-success orgs add it and the seed generator uses it.
"""

from __future__ import annotations

from typing import Any

from .ids import KEY_PREFIXES
from .schema import FieldDef, ObjectDef, Schema

OPPORTUNITY_STAGES: list[dict[str, Any]] = [
    # ApiName, DefaultProbability, ForecastCategoryName, IsClosed, IsWon
    {"ApiName": "Prospecting", "DefaultProbability": 10.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Qualification", "DefaultProbability": 10.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Needs Analysis", "DefaultProbability": 20.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Value Proposition", "DefaultProbability": 50.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Id. Decision Makers", "DefaultProbability": 60.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Perception Analysis", "DefaultProbability": 70.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Proposal/Price Quote", "DefaultProbability": 75.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Negotiation/Review", "DefaultProbability": 90.0, "ForecastCategoryName": "Pipeline", "IsClosed": False, "IsWon": False},
    {"ApiName": "Closed Won", "DefaultProbability": 100.0, "ForecastCategoryName": "Closed", "IsClosed": True, "IsWon": True},
    {"ApiName": "Closed Lost", "DefaultProbability": 0.0, "ForecastCategoryName": "Omitted", "IsClosed": True, "IsWon": False},
]
# ForecastCategoryName (picklist label) → ForecastCategory (the read-only API value).
FORECAST_CATEGORY = {"Pipeline": "Pipeline", "Best Case": "BestCase", "Most Likely": "MostLikely",
                     "Commit": "Forecast", "Closed": "Closed", "Omitted": "Omitted"}
OPPORTUNITY_TYPES = ["Existing Customer - Upgrade", "Existing Customer - Replacement",
                     "Existing Customer - Downgrade", "New Customer", "Renewal"]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
ACCOUNT_TYPES = ["Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
                 "Installation Partner", "Technology Partner", "Other"]
INDUSTRIES = ["Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
              "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental",
              "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance", "Machinery",
              "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
              "Telecommunications", "Transportation", "Utilities", "Other"]
TASK_STATUSES = ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"]


def _ro(name: str, kind: str, **kw: Any) -> FieldDef:
    """A read-only field (derived or system-maintained)."""
    return FieldDef(name, kind, createable=False, updateable=False, **kw)


def _ref(name: str, *targets: str, **kw: Any) -> FieldDef:
    return FieldDef(name, "reference", reference_to=list(targets), **kw)


def _owner() -> FieldDef:
    return _ref("OwnerId", "User", label="Owner ID", nillable=False, defaulted_on_create=True)


def _object(name: str, fields: list[FieldDef], **kw: Any) -> ObjectDef:
    return ObjectDef(name, KEY_PREFIXES[name], fields={f.name: f for f in fields}, **kw)


def standard_objects() -> list[ObjectDef]:
    """Fresh definitions of every standard object the fake supports."""
    organization = _object("Organization", [
        _ro("Name", "string", name_field=True), _ro("InstanceName", "string"), _ro("IsSandbox", "boolean"),
        _ro("OrganizationType", "string"), _ro("NamespacePrefix", "string"), _ro("TimeZoneSidKey", "string"),
    ], createable=False, updateable=False, deletable=False)
    user = _object("User", [
        FieldDef("Username", "string", length=80, nillable=False, unique=True),
        FieldDef("FirstName", "string", length=40), FieldDef("LastName", "string", length=80, nillable=False),
        _ro("Name", "string", length=121, name_field=True),
        FieldDef("Email", "email", nillable=False), FieldDef("Alias", "string", length=8, nillable=False),
        FieldDef("IsActive", "boolean", defaulted_on_create=True, default=True),
        FieldDef("UserType", "picklist", picklist=["Standard", "AutomatedProcess"], defaulted_on_create=True,
                 default="Standard"),
        FieldDef("TimeZoneSidKey", "picklist", picklist=["GMT", "America/Los_Angeles", "Europe/Paris"],
                 defaulted_on_create=True, default="GMT"),
        FieldDef("Title", "string", length=80), FieldDef("Department", "string", length=80),
        FieldDef("ManagerId", "reference", reference_to=["User"], relationship_name="Manager"),
    ], deletable=False)
    record_type = _object("RecordType", [
        FieldDef("Name", "string", length=80, nillable=False, name_field=True),
        FieldDef("DeveloperName", "string", length=80, nillable=False),
        FieldDef("NamespacePrefix", "string", length=15, createable=False, updateable=False),
        FieldDef("Description", "string", length=255),
        FieldDef("SobjectType", "picklist", picklist=["Account", "Opportunity", "Task", "Event"], nillable=False),
        FieldDef("IsActive", "boolean", defaulted_on_create=True, default=True),
    ], label="Record Type", deletable=False)
    stage = _object("OpportunityStage", [
        _ro("MasterLabel", "string", name_field=True), _ro("ApiName", "string"), _ro("IsActive", "boolean"),
        _ro("SortOrder", "int"), _ro("IsClosed", "boolean"), _ro("IsWon", "boolean"),
        _ro("ForecastCategory", "picklist", picklist=list(FORECAST_CATEGORY.values())),
        _ro("ForecastCategoryName", "picklist", picklist=list(FORECAST_CATEGORY)),
        _ro("DefaultProbability", "percent"), _ro("Description", "string"),
    ], label="Opportunity Stage", createable=False, updateable=False, deletable=False)
    account = _object("Account", [
        _ref("MasterRecordId", "Account", createable=False, updateable=False, relationship_name="MasterRecord"),
        FieldDef("Name", "string", length=255, nillable=False, name_field=True),
        FieldDef("Type", "picklist", picklist=ACCOUNT_TYPES),
        _ref("ParentId", "Account", label="Parent Account ID", relationship_name="Parent"),
        _ref("RecordTypeId", "RecordType", label="Record Type ID"),
        FieldDef("BillingStreet", "textarea", length=255), FieldDef("BillingCity", "string", length=40),
        FieldDef("BillingState", "string", length=80), FieldDef("BillingPostalCode", "string", length=20),
        FieldDef("BillingCountry", "string", length=80), FieldDef("Phone", "phone", length=40),
        FieldDef("Website", "url"), FieldDef("Industry", "picklist", picklist=INDUSTRIES),
        FieldDef("AnnualRevenue", "currency"), FieldDef("NumberOfEmployees", "int", precision=8),
        FieldDef("Rating", "picklist", picklist=["Hot", "Warm", "Cold"]), FieldDef("AccountNumber", "string", length=40),
        FieldDef("Site", "string", length=80), FieldDef("Description", "textarea"),
        _owner(), _ro("LastActivityDate", "date"),
    ])
    contact = _object("Contact", [
        _ref("AccountId", "Account", label="Account ID"),
        FieldDef("FirstName", "string", length=40), FieldDef("LastName", "string", length=80, nillable=False),
        _ro("Name", "string", length=121, name_field=True), FieldDef("Title", "string", length=128),
        FieldDef("Email", "email"), FieldDef("Phone", "phone", length=40), _owner(),
    ])
    opportunity = _object("Opportunity", [
        _ref("AccountId", "Account", label="Account ID"),
        _ref("RecordTypeId", "RecordType", label="Record Type ID"),
        FieldDef("Name", "string", length=120, nillable=False, name_field=True),
        FieldDef("Description", "textarea"),
        FieldDef("StageName", "picklist", label="Stage", picklist=[s["ApiName"] for s in OPPORTUNITY_STAGES],
                 nillable=False),
        FieldDef("Amount", "currency"),
        FieldDef("Probability", "percent", label="Probability (%)", defaulted_on_create=True),
        _ro("ExpectedRevenue", "currency", label="Expected Amount", calculated=True),
        FieldDef("TotalOpportunityQuantity", "double", label="Quantity"),
        FieldDef("CloseDate", "date", nillable=False),
        FieldDef("Type", "picklist", label="Opportunity Type", picklist=OPPORTUNITY_TYPES),
        FieldDef("NextStep", "string", length=255), FieldDef("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _ro("IsClosed", "boolean", label="Closed", nillable=False), _ro("IsWon", "boolean", label="Won", nillable=False),
        _ro("ForecastCategory", "picklist", picklist=list(FORECAST_CATEGORY.values())),
        FieldDef("ForecastCategoryName", "picklist", label="Forecast Category", picklist=list(FORECAST_CATEGORY),
                 defaulted_on_create=True),
        FieldDef("IsPrivate", "boolean", label="Private", defaulted_on_create=True, default=False),
        _ro("HasOpportunityLineItem", "boolean", nillable=False),
        _owner(),
        _ro("FiscalQuarter", "int", precision=11), _ro("FiscalYear", "int", precision=11),
        _ro("Fiscal", "string", label="Fiscal Period", length=6),
        _ro("LastActivityDate", "date"), _ro("LastStageChangeDate", "datetime"),
    ], label_plural="Opportunities")
    history = _object("OpportunityHistory", [
        _ro("OpportunityId", "reference", reference_to=["Opportunity"], relationship_name="Opportunity",
            nillable=False),
        _ro("StageName", "picklist", picklist=[s["ApiName"] for s in OPPORTUNITY_STAGES]),
        _ro("Amount", "currency"), _ro("ExpectedRevenue", "currency"), _ro("CloseDate", "date"),
        _ro("Probability", "percent"), _ro("ForecastCategory", "picklist", picklist=list(FORECAST_CATEGORY.values())),
        _ro("PrevAmount", "currency"), _ro("PrevCloseDate", "date"),
    ], label="Opportunity History", label_plural="Opportunity History", createable=False, updateable=False, deletable=False)
    activity_what = ("Account", "Opportunity")
    task = _object("Task", [
        _ref("WhoId", "Contact", label="Name ID", relationship_name="Who"),
        _ref("WhatId", *activity_what, label="Related To ID", relationship_name="What"),
        FieldDef("Subject", "combobox", length=255), FieldDef("ActivityDate", "date", label="Due Date Only"),
        FieldDef("Status", "picklist", picklist=TASK_STATUSES, nillable=False, defaulted_on_create=True,
                 default="Not Started"),
        FieldDef("Priority", "picklist", picklist=["High", "Normal", "Low"], nillable=False,
                 defaulted_on_create=True, default="Normal"),
        FieldDef("Type", "picklist", picklist=["Call", "Email", "Meeting", "Other"]),
        FieldDef("TaskSubtype", "picklist", picklist=["Task", "Email", "Call"], defaulted_on_create=True,
                 default="Task", updateable=False),
        FieldDef("Description", "textarea"), FieldDef("CallDurationInSeconds", "int"),
        _ro("AccountId", "reference", reference_to=["Account"], relationship_name="Account"),
        _ro("IsClosed", "boolean", label="Closed", nillable=False), _owner(),
    ])
    event = _object("Event", [
        _ref("WhoId", "Contact", label="Name ID", relationship_name="Who"),
        _ref("WhatId", *activity_what, label="Related To ID", relationship_name="What"),
        FieldDef("Subject", "combobox", length=255), FieldDef("Location", "string", length=255),
        FieldDef("IsAllDayEvent", "boolean", defaulted_on_create=True, default=False),
        FieldDef("ActivityDateTime", "datetime", label="Due Date Time"),
        _ro("ActivityDate", "date", label="Due Date Only"),
        FieldDef("DurationInMinutes", "int"), FieldDef("StartDateTime", "datetime"),
        FieldDef("EndDateTime", "datetime"),
        FieldDef("Type", "picklist", picklist=["Call", "Email", "Meeting", "Other"]),
        FieldDef("Description", "textarea"),
        _ro("AccountId", "reference", reference_to=["Account"], relationship_name="Account"), _owner(),
    ])
    return [organization, user, record_type, stage, account, contact, opportunity, history, task, event]


def standard_schema() -> Schema:
    """A Schema holding every standard object."""
    return Schema(standard_objects())
