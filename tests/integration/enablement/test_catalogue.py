"""Enablement's catalogue: courses, certification definitions and materials."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from tests.support.enablement import KEYED_PARTNER, PARTNER_KEY, SUFFIX, sign
from tests.support.http import field_errors
from tests.support.processes import ServiceProcess


async def test_courses_and_certification_definitions(service: ServiceProcess) -> None:
    course = f"CLOUD-101-{SUFFIX}"
    line = f"cloud-{SUFFIX}"
    created = service.post(
        "/courses", {"course_id": course, "title": "Cloud basics", "product_line": line}
    )
    assert created.status_code == 201, created.text
    assert created.json()["passing_score"] == 70, "the default passing score"
    again = service.post(
        "/courses", {"course_id": course, "title": "Cloud basics", "product_line": line}
    )
    assert again.status_code == 200, "defining the same course again changes nothing"
    conflicting = service.post(
        "/courses", {"course_id": course, "title": "Other", "product_line": line}
    )
    assert conflicting.status_code == 409
    assert course in conflicting.json()["detail"]

    for bad in (101, -1, 70.5):
        refused = service.post(
            "/courses",
            {"course_id": f"X-{SUFFIX}", "title": "x", "product_line": line, "passing_score": bad},
        )
        assert refused.status_code == 422
        assert field_errors(refused) == ["body.passing_score"]

    certification = {
        "certification_id": f"CERT-{SUFFIX}",
        "product_line": line,
        "required_courses": [course],
        "validity_days": 365,
    }
    assert service.post("/certifications", certification).status_code == 201
    unknown = service.post(
        "/certifications",
        {**certification, "certification_id": f"CERT-2-{SUFFIX}", "required_courses": ["NOPE"]},
    )
    assert unknown.status_code == 422
    assert field_errors(unknown) == ["body.required_courses"]
    assert "NOPE" in unknown.json()["detail"][0]["msg"]
    no_validity = service.post(
        "/certifications", {**certification, "certification_id": "C3", "validity_days": 0}
    )
    assert field_errors(no_validity) == ["body.validity_days"]

    courses = service.get("/courses", product_line=line).json()["courses"]
    assert courses == [
        {"course_id": course, "title": "Cloud basics", "product_line": line, "passing_score": 70}
    ]
    certifications = service.get("/certifications", product_line=line).json()["certifications"]
    assert certifications == [certification]


async def test_materials_are_listed_by_tier(
    service: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    line = f"security-{SUFFIX}"
    gold_partner = f"P-gold-{SUFFIX}"
    await sign(service, producer, gold_partner, tier="gold")
    await sign(service, producer, KEYED_PARTNER, tier="silver")

    def add(title: str, tiers: list[str] | None) -> str:
        body: dict[str, Any] = {
            "title": title,
            "product_line": line,
            "kind": "deck",
            "url": f"https://materials.example/{title.replace(' ', '-')}",
        }
        if tiers is not None:
            body["tiers"] = tiers
        answer = service.post("/materials", body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["material_id"])

    everyone = add("A overview", None)
    premium = add("B premium playbook", ["gold", "platinum"])
    silver = add("C silver starter", ["silver"])

    def titles(key: str | None = None, **params: str) -> list[str]:
        answer = service.get("/materials", key=key, product_line=line, **params)
        assert answer.status_code == 200, answer.text
        return [m["material_id"] for m in answer.json()["materials"]]

    assert titles() == [everyone, premium, silver]
    assert titles(tier="silver") == [everyone, silver]
    assert titles(tier="gold") == [everyone, premium]
    assert titles(partner_id=gold_partner) == [everyone, premium]
    assert titles(key=PARTNER_KEY) == [everyone, silver], "a partner key sees its own tier's"
    assert titles(key=PARTNER_KEY, partner_id=KEYED_PARTNER) == [everyone, silver]
    other = service.get("/materials", key=PARTNER_KEY, partner_id=gold_partner)
    assert other.status_code == 403
    above = service.get("/materials", key=PARTNER_KEY, tier="gold")
    assert above.status_code == 403
    refused = service.post(
        "/materials",
        {"title": "x", "product_line": line, "kind": "deck", "url": "u", "tiers": ["diamond"]},
    )
    assert refused.status_code == 422
    assert field_errors(refused)[0].startswith("body.tiers")
