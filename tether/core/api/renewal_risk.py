"""Renewal Center API, Risk: flagged open renewals, likelihoods and factors, model versions.

Users and admins read risk and model versions; only admins train (it replaces every
score). Viewer+Analytics users see neither.
"""

from __future__ import annotations

from ..renewals.analytics import Selection
from ..renewals.risk import opportunity_risk, risk_list
from ..renewals.scoring import get_version, list_versions, train_and_score
from .registry import ADMIN_ROLES, WRITE_ROLES, registry
from .renewal_responses import RenewalModelVersionOut, RenewalRiskItem, RenewalRiskReport, RenewalTrainOut
from .renewal_schemas import RenewalRiskQuery, field_errors

TAG = "renewals"


@registry.route("/renewals/risk", roles=WRITE_ROLES, tag=TAG, query=RenewalRiskQuery, response=RenewalRiskReport)
@field_errors
def renewal_risk(api):
    """Open renewals of the selected periods, riskiest first: likelihood, top factors, rule flags."""
    query = api.query
    selection = Selection.parse(period=query["period"], before=query["before"], after=query["after"],
                                filters=query.get("filters"))
    return risk_list(api.tenant, selection, limit=query["limit"])


@registry.route("/renewals/opportunities/<int:opportunity_id>/risk", roles=WRITE_ROLES, tag=TAG, response=RenewalRiskItem)
@field_errors
def renewal_opportunity_risk(api, opportunity_id):
    """One renewal's likelihood, factors and rule flags."""
    return opportunity_risk(api.tenant, opportunity_id)


@registry.route("/renewals/models", roles=WRITE_ROLES, tag=TAG, response=RenewalModelVersionOut, many=True)
@field_errors
def renewal_model_versions(api):
    """Risk model versions, newest first, with holdout metrics and global importance."""
    return list_versions(api.tenant)


@registry.route("/renewals/models/<int:version>", roles=WRITE_ROLES, tag=TAG, response=RenewalModelVersionOut)
@field_errors
def renewal_model_version(api, version):
    """One model version with its features and coefficients."""
    return get_version(api.tenant, version)


@registry.route("/renewals/models/train", methods=("POST",), roles=ADMIN_ROLES, tag=TAG, response=RenewalTrainOut, status=201)
@field_errors
def train_renewal_model(api):
    """Train a new model version now (or record why there is too little history) and rescore."""
    return train_and_score(api.tenant), 201
