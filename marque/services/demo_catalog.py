"""The demo catalogue of Lumen (曜), a fictional EV brand: a sedan and an SUV.

``demo_catalogue()`` builds it as plain domain objects (unit tests use it without a
database); ``seed_demo_catalog`` stores it once, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from marque.domain.catalog import (
    DepositTerms,
    LocalizedText,
    Model,
    ModelOffer,
    Option,
    OptionGroup,
    OptionRule,
    PriceBook,
    RuleKind,
    Selection,
    Trim,
)
from marque.services.demo_deposit_terms import (
    FOUNDERS_TERMS_CODE,
    earnest_terms,
    founders_terms,
    intent_terms,
)
from marque.services.unit_of_work import UnitOfWork

T = LocalizedText
#: code, English name, Chinese name, English description, Chinese description
Row = tuple[str, str, str, str, str]
#: 2026-09-01 00:00 in Beijing: when the demo price books and terms took effect.
EFFECTIVE_FROM = datetime(2026, 8, 31, 16, 0, tzinfo=UTC)
FOUNDERS_CAP = 5_000


@dataclass(frozen=True)
class DemoCatalogue:
    models: tuple[Model, ...]
    price_books: tuple[PriceBook, ...]
    terms: tuple[DepositTerms, ...]

    def offer(self, model_code: str) -> ModelOffer:
        model = next(m for m in self.models if m.code == model_code)
        book = next(b for b in self.price_books if b.model_code == model_code)
        return ModelOffer(model, book, {t.code: t for t in self.terms})


def _option(group: str, code: str, en: str, zh: str, about_en: str, about_zh: str) -> Option:
    return Option(code=code, group=group, name=T(zh, en), description=T(about_zh, about_en))


def _groups(*, suv: bool) -> tuple[OptionGroup, ...]:
    paint: list[Row] = [
        ("paint-graphite", "Graphite Grey", "石墨灰", "Solid metallic grey.", "金属质感深灰色。"),
        ("paint-pearl-white", "Pearl White", "珍珠白", "Three-coat pearl.", "三涂层珠光白。"),
        ("paint-midnight-blue", "Midnight Blue", "午夜蓝", "Deep metallic blue.", "深邃金属蓝。"),
        ("paint-solar-red", "Solar Red", "日珥红", "Multi-layer red.", "多层镀膜红。"),
        (
            "paint-aurora-green",
            "Aurora Green",
            "极光绿",
            "Founders Edition colour that shifts from green to teal.",
            "创始版专属，绿至青色随光变化。",
        ),
    ]
    wheels: list[Row] = [
        ("wheels-19-aero", '19" Aero wheels', "19英寸低风阻轮毂", "Longest range.", "续航最长。"),
        (
            "wheels-20-sport",
            '20" Sport wheels',
            "20英寸运动轮毂",
            "Sharper steering.",
            "转向更灵敏。",
        ),
        (
            "wheels-21-forged",
            '21" Forged performance wheels',
            "21英寸锻造性能轮毂",
            "Forged, with performance tyres.",
            "锻造工艺，配高性能轮胎。",
        ),
    ]
    interior: list[Row] = [
        (
            "interior-obsidian",
            "Obsidian Black interior",
            "曜石黑内饰",
            "Dark and durable.",
            "深色耐脏。",
        ),
        (
            "interior-ivory",
            "Ivory White interior",
            "象牙白内饰",
            "Light and airy.",
            "明亮通透的浅色内饰。",
        ),
        (
            "interior-cognac",
            "Cognac Nappa interior",
            "干邑棕Nappa真皮内饰",
            "Nappa leather.",
            "Nappa真皮。",
        ),
    ]
    callipers: list[Row] = [
        (
            "callipers-graphite",
            "Graphite callipers",
            "石墨灰卡钳",
            "Standard finish.",
            "标准涂装。",
        ),
        (
            "callipers-red",
            "Red performance callipers",
            "红色性能卡钳",
            "Four-piston.",
            "四活塞性能卡钳。",
        ),
        ("callipers-blue", "Blue callipers", "蓝色卡钳", "Painted blue.", "蓝色涂装。"),
    ]
    packs: list[Row] = [
        (
            "pack-pilot-plus",
            "Pilot Plus pack",
            "高阶智驾包",
            "Navigate on city roads and highways, automatic parking.",
            "城市与高速领航辅助、自动泊车。",
        ),
        (
            "pack-sound",
            "Premium Sound pack",
            "臻享音响包",
            "23 speakers, 1,600 W.",
            "23扬声器，1,600瓦。",
        ),
        (
            "pack-comfort",
            "Comfort Seats pack",
            "舒适座椅包",
            "Ventilated, massaging front seats.",
            "前排座椅通风与按摩。",
        ),
        (
            "pack-winter",
            "Winter pack",
            "冬季包",
            "Heated steering wheel and rear seats, battery pre-heating.",
            "方向盘与后排加热、电池预热。",
        ),
        (
            "pack-track",
            "Track pack",
            "赛道包",
            "Sport bucket seats, track cooling and launch control.",
            "运动桶形座椅、赛道散热、弹射起步。",
        ),
        (
            "pack-lounge",
            "Rear Lounge pack" if suv else "Executive Rear pack",
            "后排休闲包" if suv else "后排行政包",
            "Reclining rear seats with footrests." if suv else "Reclining rear seats, rear screen.",
            "后排座椅电动调节与腿托。" if suv else "后排座椅电动调节、后排娱乐屏。",
        ),
    ]

    def group(code: str, en: str, zh: str, selection: Selection, rows: list[Row]) -> OptionGroup:
        return OptionGroup(
            code=code,
            name=T(zh, en),
            selection=selection,
            options=tuple(_option(code, *row) for row in rows),
            default_option=rows[0][0] if selection is Selection.ONE else None,
        )

    return (
        group("paint", "Paint", "车漆", Selection.ONE, paint),
        group("wheels", "Wheels", "轮毂", Selection.ONE, wheels),
        group("interior", "Interior", "内饰", Selection.ONE, interior),
        group("brake_callipers", "Brake callipers", "刹车卡钳", Selection.ONE, callipers),
        group("packs", "Packs", "选装包", Selection.MANY, packs),
    )


def _rules(performance: tuple[str, ...]) -> tuple[OptionRule, ...]:
    R = RuleKind
    return (
        OptionRule(
            "forged-wheels-performance-only", R.ONLY_WITH_TRIM, "wheels-21-forged", performance
        ),
        OptionRule(
            "aurora-green-founders-only", R.ONLY_WITH_TRIM, "paint-aurora-green", ("founders",)
        ),
        OptionRule("track-pack-performance-only", R.ONLY_WITH_TRIM, "pack-track", performance),
        OptionRule(
            "red-callipers-need-forged-wheels", R.REQUIRES, "callipers-red", ("wheels-21-forged",)
        ),
        OptionRule(
            "blue-callipers-need-larger-wheels",
            R.REQUIRES,
            "callipers-blue",
            ("wheels-20-sport", "wheels-21-forged"),
        ),
        OptionRule(
            "pearl-white-excludes-ivory", R.EXCLUDES, "paint-pearl-white", ("interior-ivory",)
        ),
        OptionRule("lounge-needs-comfort-seats", R.REQUIRES, "pack-lounge", ("pack-comfort",)),
        OptionRule(
            "track-pack-excludes-comfort-seats", R.EXCLUDES, "pack-track", ("pack-comfort",)
        ),
    )


def _founders(on_sale_at: datetime) -> Trim:
    return Trim(
        code="founders",
        name=T("创始版", "Founders Edition"),
        limited_edition=True,
        unit_cap=FOUNDERS_CAP,
        on_sale_at=on_sale_at,
        deposit_terms_code=FOUNDERS_TERMS_CODE,
    )


OPTION_PRICES = {  # yuan
    "paint-pearl-white": 8_000,
    "paint-midnight-blue": 8_000,
    "paint-solar-red": 12_000,
    "paint-aurora-green": 15_000,
    "wheels-20-sport": 6_000,
    "wheels-21-forged": 18_000,
    "interior-ivory": 6_000,
    "interior-cognac": 10_000,
    "callipers-red": 3_000,
    "callipers-blue": 3_000,
    "pack-pilot-plus": 15_000,
    "pack-sound": 8_000,
    "pack-comfort": 6_000,
    "pack-winter": 3_000,
    "pack-track": 12_000,
    "pack-lounge": 9_000,
}


def _book(model_code: str, trim_prices: dict[str, int]) -> PriceBook:
    return PriceBook(
        code=f"{model_code}-2026-09",
        model_code=model_code,
        currency="CNY",
        effective_from=EFFECTIVE_FROM,
        effective_to=None,
        trim_prices={code: yuan * 100 for code, yuan in trim_prices.items()},
        option_prices={code: yuan * 100 for code, yuan in OPTION_PRICES.items()},
    )


def demo_catalogue() -> DemoCatalogue:
    arc_launch = datetime(2026, 3, 28, 14, 0, tzinfo=UTC)  # 22:00 in Beijing
    vista_launch = datetime(2026, 6, 26, 14, 0, tzinfo=UTC)
    arc = Model(
        code="arc",
        name=T("曜 Arc", "Lumen Arc"),
        body_type="sedan",
        tagline=T("一台为长途而生的电动轿车。", "An electric sedan made for the long drive."),
        deposit_terms_code="arc-earnest",
        trims=(
            Trim("standard", T("标准版 后驱", "Standard RWD"), on_sale_at=arc_launch),
            Trim("long-range", T("长续航版 四驱", "Long Range AWD"), on_sale_at=arc_launch),
            Trim("performance", T("高性能版 四驱", "Performance AWD"), on_sale_at=arc_launch),
            _founders(arc_launch),
        ),
        option_groups=_groups(suv=False),
        rules=_rules(("performance", "founders")),
        on_sale_at=arc_launch,
    )
    vista = Model(
        code="vista",
        name=T("曜 Vista", "Lumen Vista"),
        body_type="suv",
        tagline=T("六座空间，一家人的远方。", "Six seats and room for every journey."),
        deposit_terms_code="vista-intent",
        trims=(
            Trim("pro", T("Pro 四驱版", "Pro AWD"), on_sale_at=vista_launch),
            Trim("max", T("Max 四驱版", "Max AWD"), on_sale_at=vista_launch),
            Trim("ultra", T("Ultra 高性能版", "Ultra Performance"), on_sale_at=vista_launch),
            _founders(vista_launch),
        ),
        option_groups=_groups(suv=True),
        rules=_rules(("ultra", "founders")),
        on_sale_at=vista_launch,
    )
    books = (
        _book(
            "arc",
            {
                "standard": 215_900,
                "long-range": 249_900,
                "performance": 289_900,
                "founders": 299_900,
            },
        ),
        _book("vista", {"pro": 239_900, "max": 279_900, "ultra": 319_900, "founders": 329_900}),
    )
    terms = (
        earnest_terms("arc-earnest", arc.name, EFFECTIVE_FROM),
        intent_terms("vista-intent", vista.name, EFFECTIVE_FROM),
        founders_terms(EFFECTIVE_FROM),
    )
    return DemoCatalogue(models=(arc, vista), price_books=books, terms=terms)


def seed_demo_catalog(uow: UnitOfWork, now: datetime) -> bool:
    """Store the demo catalogue unless a catalogue is already there. True if it loaded."""
    demo = demo_catalogue()
    with uow:
        if uow.catalog.has_models():
            return False
        for terms in demo.terms:
            uow.catalog.add_deposit_terms(terms, now=now)
        for position, model in enumerate(demo.models):
            uow.catalog.add_model(model, position=position, now=now)
        for book in demo.price_books:
            uow.catalog.add_price_book(book, now=now)
        uow.commit()
    return True
