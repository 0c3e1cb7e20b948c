"""Object and field metadata: the standard objects, custom objects/fields, describe output.

Names are case-insensitive everywhere Salesforce treats them so (SOQL, REST paths, JSON
keys); the canonical spelling from the schema is what the API returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Any, Iterable, Mapping

from .errors import SalesforceError
from .ids import KEY_PREFIXES, BASE62

SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "currency": "xsd:double",
    "double": "xsd:double", "percent": "xsd:double", "int": "xsd:int", "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
FIELD_TYPES = frozenset({"id", "reference", "string", "textarea", "picklist", "multipicklist", "email", "phone",
                         "url", "combobox", "boolean", "currency", "double", "percent", "int", "date", "datetime",
                         "encryptedstring"})
# Fields every object has; the store maintains them, the API can't write them.
SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                 "SystemModstamp")


@dataclass
class FieldDef:
    """One field's metadata; ``describe()`` renders it like ``sobjects/X/describe`` does."""

    name: str
    type: str
    label: str = ""
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default: Any = None
    picklist: list[str] | None = None
    restricted_picklist: bool = False
    reference_to: list[str] = dataclass_field(default_factory=list)
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    calculated: bool = False
    name_field: bool = False
    cascade_delete: bool = False

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r} for {self.name}")
        if not self.label:
            self.label = _label_of(self.name)
        if self.type in ("string", "textarea", "email", "phone", "url", "picklist", "multipicklist",
                         "encryptedstring", "combobox") and self.length is None:
            self.length = {"textarea": 32000, "picklist": 255, "multipicklist": 4099, "url": 255}.get(self.type, 255)
        if self.type in ("id", "reference"):
            self.length = 18
        if self.type in ("currency", "double", "percent") and self.precision is None:
            self.precision, self.scale = (18, 2) if self.type != "percent" else (3, 0)
        if self.type == "reference" and self.relationship_name is None:
            if self.name.endswith("__c"):
                self.relationship_name = self.name[:-3] + "__r"
            elif self.name.endswith("Id") and len(self.name) > 2:
                self.relationship_name = self.name[:-2]

    @property
    def writable(self) -> bool:
        return self.createable or self.updateable

    @property
    def required(self) -> bool:
        """Must be given on create (Salesforce's REQUIRED_FIELD_MISSING)."""
        return not self.nillable and self.createable and not self.defaulted_on_create and self.type != "boolean"

    def describe(self) -> dict[str, Any]:
        """The field entry of an sObject describe."""
        text_like = self.type not in ("boolean", "currency", "double", "percent", "int", "date", "datetime")
        return {
            "aggregatable": self.type not in ("textarea",),
            "autoNumber": False,
            "byteLength": (self.length or 0) * 3 if text_like else 0,
            "calculated": self.calculated,
            "cascadeDelete": self.cascade_delete,
            "caseSensitive": False,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if not callable(self.default) else None,
            "defaultedOnCreate": self.defaulted_on_create or self.type == "boolean",
            "dependentPicklist": False,
            "externalId": self.external_id,
            "filterable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "currency", "double", "percent", "datetime"),
            "idLookup": self.type == "id" or self.external_id or self.name_field and self.name == "Name",
            "label": self.label,
            "length": self.length or 0,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "permissionable": self.custom and self.nillable,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
                for v in (self.picklist or [])
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": self.precision or 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name if self.type == "reference" else None,
            "restrictedPicklist": self.restricted_picklist,
            "scale": self.scale or 0,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class ObjectDef:
    """One sObject type."""

    name: str
    key_prefix: str
    label: str = ""
    label_plural: str = ""
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    fields: dict[str, FieldDef] = dataclass_field(default_factory=dict)

    def __post_init__(self) -> None:
        self.label = self.label or _label_of(self.name)
        self.label_plural = self.label_plural or self.label + "s"
        self._by_lower: dict[str, FieldDef] = {}
        self._by_relationship: dict[str, FieldDef] = {}
        for definition in list(self.fields.values()):
            self._index(definition)

    def _index(self, definition: FieldDef) -> None:
        self.fields[definition.name] = definition
        self._by_lower[definition.name.lower()] = definition
        if definition.type == "reference" and definition.relationship_name:
            self._by_relationship[definition.relationship_name.lower()] = definition

    def add_field(self, definition: FieldDef) -> FieldDef:
        """Add (or replace) a field."""
        self._index(definition)
        return definition

    def remove_field(self, name: str) -> FieldDef:
        """Drop a field and its lookups (its values stay in stored rows but are no longer reachable)."""
        definition = self._by_lower.pop(name.lower())
        del self.fields[definition.name]
        if definition.relationship_name:
            self._by_relationship.pop(definition.relationship_name.lower(), None)
        return definition

    def field(self, name: str) -> FieldDef | None:
        """Case-insensitive field lookup."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind a relationship name (``Account`` → ``AccountId``)."""
        return self._by_relationship.get(name.lower())

    @property
    def name_field(self) -> FieldDef | None:
        return next((f for f in self.fields.values() if f.name_field), None)

    def describe(self, schema: "Schema", version: str) -> dict[str, Any]:
        """``GET sobjects/X/describe``."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            **self.summary(version),
            "childRelationships": [
                {"cascadeDelete": f.cascade_delete, "childSObject": child.name, "deprecatedAndHidden": False,
                 "field": f.name, "junctionIdListNames": [], "junctionReferenceTo": [],
                 "relationshipName": _plural_relationship(child, f), "restrictedDelete": False}
                for child, f in schema.child_relationships(self.name)
                if _plural_relationship(child, f)
            ],
            "fields": [f.describe() for f in self.fields.values()],
            "recordTypeInfos": [],
            "urls": {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
                     "describe": f"{base}/describe", "sobject": base, "layouts": f"{base}/describe/layouts"},
        }

    def summary(self, version: str) -> dict[str, Any]:
        """The object entry of the global describe."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "activateable": False, "createable": self.createable, "custom": self.custom, "customSetting": False,
            "deletable": self.deletable, "deprecatedAndHidden": False, "feedEnabled": False,
            "hasSubtypes": False, "isSubtype": False, "keyPrefix": self.key_prefix, "label": self.label,
            "labelPlural": self.label_plural, "layoutable": True, "mergeable": self.name in ("Account", "Contact"),
            "mruEnabled": True, "name": self.name, "queryable": self.queryable, "replicateable": self.queryable,
            "retrieveable": True, "searchable": True, "triggerable": self.createable, "undeletable": self.deletable,
            "updateable": self.updateable,
            "urls": {"rowTemplate": f"{base}/{{ID}}", "describe": f"{base}/describe", "sobject": base},
        }


def _plural_relationship(child: ObjectDef, reference: FieldDef) -> str | None:
    if reference.custom:
        return child.label_plural.replace(" ", "_") + "__r"
    if reference.name in ("CreatedById", "LastModifiedById", "OwnerId", "MasterRecordId", "ManagerId") \
            or not reference.createable:
        return None
    if reference.name == "ParentId" and child.name in reference.reference_to:
        return "Child" + child.label_plural.replace(" ", "")
    return child.label_plural.replace(" ", "")


def _label_of(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    if base.endswith("Id") and len(base) > 2 and not name.endswith("__c"):
        base = base[:-2] + " ID"
    return base.replace("_", " ")


def system_fields(user_object: str = "User") -> list[FieldDef]:
    """The audit fields the store maintains on every object."""
    return [
        FieldDef("Id", "id", label="Record ID", nillable=False, createable=False, updateable=False,
                 defaulted_on_create=True),
        FieldDef("IsDeleted", "boolean", label="Deleted", nillable=False, createable=False, updateable=False,
                 defaulted_on_create=True),
        FieldDef("CreatedDate", "datetime", nillable=False, createable=False, updateable=False,
                 defaulted_on_create=True),
        FieldDef("CreatedById", "reference", reference_to=[user_object], nillable=False, createable=False,
                 updateable=False, defaulted_on_create=True, relationship_name="CreatedBy"),
        FieldDef("LastModifiedDate", "datetime", nillable=False, createable=False, updateable=False,
                 defaulted_on_create=True),
        FieldDef("LastModifiedById", "reference", reference_to=[user_object], nillable=False, createable=False,
                 updateable=False, defaulted_on_create=True, relationship_name="LastModifiedBy"),
        FieldDef("SystemModstamp", "datetime", label="System Modstamp", nillable=False, createable=False,
                 updateable=False, defaulted_on_create=True),
    ]


class Schema:
    """All object definitions of one org, with case-insensitive lookup."""

    def __init__(self, objects: Iterable[ObjectDef] = ()) -> None:
        self._objects: dict[str, ObjectDef] = {}
        self._by_prefix: dict[str, ObjectDef] = {}
        self._custom_prefix_counter = 0
        for definition in objects:
            self.add_object(definition)

    def add_object(self, definition: ObjectDef) -> ObjectDef:
        """Register an object (its system fields are added if missing)."""
        for system in reversed(system_fields()):
            if definition.field(system.name) is None:
                definition.fields = {system.name: system, **definition.fields}
                definition._index(system)
        self._objects[definition.name.lower()] = definition
        self._by_prefix.pop(definition.key_prefix, None)
        return definition

    def get(self, name: str) -> ObjectDef | None:
        """Case-insensitive object lookup."""
        return self._objects.get(name.lower())

    def require(self, name: str) -> ObjectDef:
        """Object lookup that raises Salesforce's NOT_FOUND for REST paths."""
        definition = self.get(name)
        if definition is None:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        return definition

    def by_prefix(self, key_prefix: str) -> ObjectDef | None:
        """The object whose ids start with ``key_prefix``."""
        found = self._by_prefix.get(key_prefix)
        if found is None:
            found = next((o for o in self._objects.values() if o.key_prefix == key_prefix), None)
            if found is not None:
                self._by_prefix[key_prefix] = found
        return found

    @property
    def objects(self) -> list[ObjectDef]:
        return list(self._objects.values())

    def child_relationships(self, parent: str) -> list[tuple[ObjectDef, FieldDef]]:
        """(child object, reference field) pairs pointing at ``parent``."""
        return [(child, f) for child in self._objects.values() for f in child.fields.values()
                if f.type == "reference" and parent in f.reference_to]

    def next_custom_prefix(self) -> str:
        """Key prefixes for custom objects: a00, a01, … like a fresh org hands them out."""
        while True:
            number = self._custom_prefix_counter
            self._custom_prefix_counter += 1
            prefix = "a" + BASE62[number // 62 % 62] + BASE62[number % 62]
            if self.by_prefix(prefix) is None:
                return prefix

    def add_custom_object(self, name: str, *, label: str | None = None, label_plural: str | None = None,
                          fields: Iterable[Mapping[str, Any] | FieldDef] = (), name_field_type: str = "string"
                          ) -> ObjectDef:
        """Declare a custom object (``Name__c``) with its own key prefix, Name and OwnerId."""
        if not name.endswith("__c"):
            raise ValueError(f"custom object names end in __c: {name}")
        definition = ObjectDef(name, self.next_custom_prefix(), label=label or _label_of(name),
                               label_plural=label_plural or "", custom=True)
        definition.add_field(FieldDef("Name", name_field_type, label=f"{definition.label} Name", nillable=False,
                                      length=80, name_field=True, defaulted_on_create=False))
        definition.add_field(FieldDef("OwnerId", "reference", label="Owner ID", reference_to=["User"],
                                      nillable=False, defaulted_on_create=True, relationship_name="Owner"))
        self.add_object(definition)
        for spec in fields:
            self.add_custom_field(name, spec)
        return definition

    def add_custom_field(self, object_name: str, spec: Mapping[str, Any] | FieldDef) -> FieldDef:
        """Add a custom field (``Foo__c``) to an object; ``spec`` is a FieldDef or its keyword dict."""
        definition = self.get(object_name)
        if definition is None:
            raise KeyError(f"unknown object {object_name}")
        field = spec if isinstance(spec, FieldDef) else field_from_spec(spec)
        if not field.name.endswith("__c"):
            raise ValueError(f"custom field names end in __c: {field.name}")
        field.custom = True
        return definition.add_field(field)

    def load(self, spec: Mapping[str, Any]) -> None:
        """Apply a schema document: ``{"objects": {"Name__c": {"label":..., "fields": [...]}, "Opportunity": {"fields": [...]}}}``."""
        for object_name, object_spec in (spec.get("objects") or {}).items():
            object_spec = object_spec or {}
            fields = object_spec.get("fields") or []
            if self.get(object_name) is None:
                self.add_custom_object(object_name, label=object_spec.get("label"),
                                       label_plural=object_spec.get("label_plural") or object_spec.get("labelPlural"))
            for field_spec in fields:
                self.add_custom_field(object_name, field_spec)


_SPEC_KEYS = {"externalId": "external_id", "referenceTo": "reference_to", "relationshipName": "relationship_name",
              "picklistValues": "picklist", "values": "picklist", "restrictedPicklist": "restricted_picklist",
              "required": None}


def field_from_spec(spec: Mapping[str, Any]) -> FieldDef:
    """A FieldDef from a schema-file dict (accepts describe-style camelCase keys and ``required``)."""
    kwargs: dict[str, Any] = {}
    for key, value in spec.items():
        target = _SPEC_KEYS.get(key, key)
        if key == "required":
            kwargs["nillable"] = not value
        elif target == "reference_to" and isinstance(value, str):
            kwargs[target] = [value]
        elif target is not None:
            kwargs[target] = value
    return FieldDef(**kwargs)


def standard_prefix(name: str) -> str:
    """Key prefix of a standard object."""
    return KEY_PREFIXES[name]
