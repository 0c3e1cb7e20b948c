"""Reading an Outbound Message in one streaming pass over expat, hardened like defusedxml.

The receiver parses every message before acknowledging it, so this is its hot path. A
tree (ElementTree with ``iterparse``) costs several times what the message needs; this
reader keeps only the element stack and the text of the elements it wants, and checks
the same things in the same order as a tree walk would (see ``outbound_messages.parse``).

Safety is defusedxml's: any DTD (which every entity-expansion and external-entity attack
needs), entity declaration or external reference stops the parse by raising
:mod:`defusedxml`'s own exceptions before anything is expanded or fetched.
"""

from __future__ import annotations

import re
from typing import Any
from xml.parsers import expat

from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

SEP = "}"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

ENVELOPE = SOAP_ENV + SEP + "Envelope"
BODY = SOAP_ENV + SEP + "Body"
NOTIFICATIONS = OUTBOUND + SEP + "notifications"
NOTIFICATION = OUTBOUND + SEP + "Notification"
NOTIFICATION_ID = OUTBOUND + SEP + "Id"
SOBJECT_ELEMENT = OUTBOUND + SEP + "sObject"
NIL = XSI + SEP + "nil"
TYPE = XSI + SEP + "type"
SOBJECT_PREFIX = SOBJECT + SEP
HEADER = {OUTBOUND + SEP + name: name for name in ("OrganizationId", "ActionId", "SessionId", "EnterpriseUrl",
                                                  "PartnerUrl")}
_OBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class ReadError(ValueError):
    """The message is well-formed XML but not a valid Outbound Message (says what)."""


class _Note:
    __slots__ = ("index", "notification_id", "id_nil", "type", "scope", "fields", "problems")

    def __init__(self, index: int) -> None:
        self.index = index
        self.notification_id: str | None = None
        self.id_nil = False
        self.type: str | None = None
        self.scope: dict[str, str] | None = None  # namespace prefixes where the sObject starts
        self.fields: dict[str, str] = {}
        self.problems: list[str] = []


class Reader:
    """expat handlers that collect an Outbound Message; :meth:`read` runs them."""

    def __init__(self) -> None:
        self.depth = 0
        self.prefixes: dict[str, list[str]] = {}
        self.root: str | None = None
        self.body_depth_ok = False  # the element at depth 1 is the Envelope's Body
        self.in_notifications = False
        self.found_notifications = False
        self.header: dict[str, tuple[str | None, bool]] = {}
        self.notes: list[_Note] = []
        self.note: _Note | None = None
        self.in_sobject = False
        # What the element being read is collected as ("header", "id", "field", or
        # "nested" for a field's child), for which target, and its text so far.
        self.kind: str | None = None
        self.target: Any = None
        self.buffer: list[str] | None = None
        self.field_nil = False

    # -- running ------------------------------------------------------------------------------

    def read(self, body: bytes) -> None:
        parser = expat.ParserCreate(namespace_separator=SEP)
        parser.buffer_text = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.data
        parser.StartNamespaceDeclHandler = self.start_ns
        parser.EndNamespaceDeclHandler = self.end_ns
        parser.StartDoctypeDeclHandler = _forbid_dtd
        parser.EntityDeclHandler = _forbid_entity
        parser.UnparsedEntityDeclHandler = _forbid_unparsed_entity
        parser.ExternalEntityRefHandler = _forbid_external
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.Parse(body, True)

    # -- handlers -----------------------------------------------------------------------------

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.prefixes.setdefault(prefix or "", []).append(uri)

    def end_ns(self, prefix: str | None) -> None:
        self.prefixes[prefix or ""].pop()

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        depth = self.depth
        self.depth = depth + 1
        # Fields (depth 5) are most of a message's elements: test for them first.
        if depth == 5:
            if self.in_sobject and self.note is not None and self.in_notifications:
                namespace, _, name = tag.rpartition(SEP)
                if namespace != SOBJECT:
                    self.note.problems.append(f"field {name!r} is not in namespace {SOBJECT}")
                self.field_nil = attrs.get(NIL) == "true" if attrs else False
                self.kind = "field"
                self.target = name
                self.buffer = []
        elif depth > 5:
            if depth == 6 and self.in_sobject and self.kind == "field" and not self.field_nil \
                    and self.note is not None and self.in_notifications:
                self.note.problems.append(f"field {self.target!r} has nested elements; "
                                          f"Outbound Messages carry flat fields")
                self.kind = "nested"
                self.buffer = None
        elif depth == 0:
            self.root = tag
        elif depth == 1:
            self.body_depth_ok = self.root == ENVELOPE and tag == BODY
        elif depth == 2:
            if self.body_depth_ok and tag == NOTIFICATIONS and not self.found_notifications:
                self.found_notifications = self.in_notifications = True
        elif not self.in_notifications:
            return
        elif depth == 3:
            if tag in HEADER:
                name = HEADER[tag]
                if name not in self.header:
                    self.header[name] = (None, attrs.get(NIL) == "true")
                    self.kind = "header"
                    self.target = name
                    self.buffer = []
            elif tag == NOTIFICATION:
                self.note = _Note(len(self.notes))
                self.notes.append(self.note)
        elif self.note is None:
            return
        else:  # depth 4
            note = self.note
            if tag == NOTIFICATION_ID and note.notification_id is None and not note.id_nil:
                note.id_nil = attrs.get(NIL) == "true"
                self.kind = "id"
                self.target = note
                self.buffer = []
            elif tag == SOBJECT_ELEMENT and note.scope is None:
                note.type = attrs.get(TYPE)
                note.scope = {prefix: uris[-1] for prefix, uris in self.prefixes.items() if uris}
                self.in_sobject = True

    def data(self, text: str) -> None:
        buffer = self.buffer  # None unless a wanted element's text is being collected
        if buffer is not None:
            buffer.append(text)

    def end(self, tag: str) -> None:
        depth = self.depth = self.depth - 1
        kind = self.kind
        if depth == 5:
            if kind == "field":
                if not self.field_nil:
                    self.note.fields[self.target] = "".join(self.buffer)
            elif kind != "nested":
                return
        elif depth > 5:
            return
        elif depth == 4:
            if tag == SOBJECT_ELEMENT and self.in_sobject:
                self.in_sobject = False
            if kind != "id":
                return
            target = self.target
            target.notification_id = None if target.id_nil else ("".join(self.buffer).strip() or None)
        elif depth == 3:
            if self.note is not None and tag == NOTIFICATION:
                self.note = None
            if kind != "header":
                return
            self.header[self.target] = ("".join(self.buffer), self.header[self.target][1])
        else:
            if depth == 2 and self.in_notifications:
                self.in_notifications = False
            return
        self.kind = None
        self.target = None
        self.buffer = None

    # -- results --------------------------------------------------------------------------------

    def text(self, name: str) -> str | None:
        value, nil = self.header.get(name, (None, False))
        if nil or value is None:
            return None
        return value.strip() or None

    def sent_session_id(self) -> bool:
        if "SessionId" not in self.header:
            return False
        value, nil = self.header["SessionId"]
        return not nil and bool((value or "").strip())

    def notifications(self) -> list[tuple[str, str, dict[str, str]]]:
        """(notification id, object name, fields) per notification, checked in document order."""
        found = []
        for note in self.notes:
            where = f"Notification[{note.index}]"
            if not note.notification_id:
                raise ReadError(f"{where} has no Id")
            if note.scope is None:
                raise ReadError(f"{where} ({note.notification_id}) has no sObject")
            object_name = _resolve_type(note.type, note.scope, where)
            if note.problems:
                raise ReadError(f"{where} {note.problems[0]}")
            found.append((note.notification_id, object_name, note.fields))
        return found


def _resolve_type(declared: str | None, scope: dict[str, str], where: str) -> str:
    """``xsi:type="sf:Opportunity"`` → ``Opportunity``; the prefix must name the sObject namespace."""
    if not declared:
        raise ReadError(f"{where} sObject has no xsi:type naming its object")
    prefix, _, name = declared.rpartition(":")
    if scope.get(prefix) != SOBJECT:
        raise ReadError(f"{where} sObject type {declared!r}: prefix {prefix!r} is not bound to {SOBJECT}")
    if not _OBJECT_NAME.fullmatch(name or ""):
        raise ReadError(f"{where} sObject type {declared!r} is not an object name")
    return name


def local_name(tag: str | None) -> str:
    return (tag or "").rpartition(SEP)[2]


def _forbid_dtd(name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _forbid_entity(name: str, is_parameter_entity: bool, value: str | None, base: str | None, sysid: str | None,
                   pubid: str | None, notation_name: str | None) -> None:
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)


def _forbid_unparsed_entity(name: str, base: str | None, sysid: str | None, pubid: str | None,
                            notation_name: str | None) -> None:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)


def _forbid_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> None:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)
