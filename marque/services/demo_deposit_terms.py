"""Deposit terms of the demo brand, one of each kind the law distinguishes:

- the sedan (Arc): 5,000 CNY earnest money (定金), refundable until the lock and a 24-hour
  cooling-off, forfeited after that if the buyer walks away, returned twice over if we breach —
  the launch practice of shared/domain.md, written down so nobody learns it from a hot search;
- the SUV (Vista): 5,000 CNY intent money (意向金), a prepayment refundable in full at any time
  before delivery (a label cannot make a prepayment forfeitable: the agreed purpose counts);
- the Founders Editions: 20,000 CNY earnest money, locked on payment.

The texts say plainly, in both languages, when the deposit stops being refundable.
"""

from __future__ import annotations

from datetime import datetime

from marque.domain.catalog import (
    BreachRemedy,
    DepositKind,
    DepositRules,
    DepositTerms,
    LocalizedText,
    MakerBreach,
    RefundableUntil,
)
from marque.domain.money import Money

INTENT_AMOUNT = Money.of_major(5_000, "CNY")
EARNEST_AMOUNT = Money.of_major(5_000, "CNY")
FOUNDERS_AMOUNT = Money.of_major(20_000, "CNY")
FOUNDERS_TERMS_CODE = "founders-earnest"

INTENT_RULES = DepositRules(
    refundable_until=RefundableUntil.ALWAYS,
    auto_lock_after_hours=168,
    lock_reminder_hours_before=24,
    cooling_off_hours_after_lock=24,
    refund_within_days=7,
    maker_breach=MakerBreach(
        late_delivery_weeks_beyond_window=4,
        price_rise_after_lock=True,
        spec_change_after_lock=True,
        remedy=BreachRemedy.REFUND,
    ),
    transferable=False,
)

EARNEST_RULES = DepositRules(
    refundable_until=RefundableUntil.LOCK,
    auto_lock_after_hours=168,
    lock_reminder_hours_before=24,
    cooling_off_hours_after_lock=24,
    refund_within_days=7,
    maker_breach=MakerBreach(
        late_delivery_weeks_beyond_window=4,
        price_rise_after_lock=True,
        spec_change_after_lock=True,
        remedy=BreachRemedy.DOUBLE,
    ),
    transferable=False,
)

FOUNDERS_RULES = DepositRules(
    refundable_until=RefundableUntil.NEVER,
    auto_lock_after_hours=0,
    lock_reminder_hours_before=None,
    cooling_off_hours_after_lock=0,
    refund_within_days=7,
    maker_breach=MakerBreach(
        late_delivery_weeks_beyond_window=4,
        price_rise_after_lock=True,
        spec_change_after_lock=True,
        remedy=BreachRemedy.DOUBLE,
    ),
    transferable=False,
)

INTENT_BODY_EN = """\
1. What you pay. You pay 5,000 CNY intent money (意向金) to reserve a {model} in the \
configuration you chose. It is a prepayment: not earnest money (定金) and not a payment for \
the car; when you buy the car, all of it counts toward the price.
2. You may cancel at any time before delivery, without giving a reason, and you get all \
5,000 CNY back, before and after the lock alike.
3. When the order locks. It locks when you press "Lock order" and confirm, or automatically \
168 hours (7 days) after your payment. We remind you by SMS 24 hours before the automatic \
lock. Until the lock, changing the configuration is free; once locked, the configuration is \
fixed and the order joins the build queue.
4. If we fail you (delivery more than 4 weeks later than the last week of the delivery \
window we promised when your order locked, a price rise or a specification change after the \
lock) you may cancel and get all 5,000 CNY back, and claim any proven loss.
5. Refunds reach your original payment method within 7 days.
6. The reservation is personal and cannot be transferred."""

INTENT_BODY_ZH = """\
一、您支付的款项：您为所选配置的{model}支付意向金5,000元。该款项属于预付款，不是定金，也不是\
购车款；购车时全额抵扣车价。
二、交付前您可随时无理由取消，5,000元全额退还，锁单前后均如此。
三、何时锁单：您点击“锁定订单”并确认后即锁单；如您未操作，支付成功后168小时（7天）\
系统自动锁单，自动锁单前24小时我们会以短信提醒您。锁单前修改配置免费；锁单后配置不可更改，\
订单进入排产队列。
四、我方违约：如交付时间比锁单时承诺的交付周期最后一周晚4周以上、锁单后我们上调价格或变更\
规格，您可取消并获得5,000元全额退款，并可主张已证实的损失。
五、退款将在7日内原路退回。
六、预订仅限本人，不可转让。"""

EARNEST_BODY_EN = """\
1. What you pay. You pay 5,000 CNY earnest money (定金, Civil Code articles 586-587) to \
reserve a {model} in the configuration you chose. It is far below 20% of the price and counts \
toward the price when you buy the car.
2. Before your order locks you may cancel at any time, without giving a reason, and you get \
all 5,000 CNY back. Changing the configuration is free during this time.
3. When the order locks. It locks when you press "Lock order" and confirm, or automatically \
168 hours (7 days) after your payment. We remind you by SMS 24 hours before the automatic \
lock. Once locked, the configuration is fixed and the order joins the build queue.
4. After the lock. For 24 hours after the lock you may still cancel and get all 5,000 CNY \
back. After those 24 hours the 5,000 CNY is NOT refundable if you withdraw: you lose the \
earnest money.
5. If we fail you, we return double, 10,000 CNY, also after the lock: if delivery is more \
than 4 weeks later than the last week of the delivery window we promised when your order \
locked, if we raise the price of your configuration after the lock, or if we change its \
specification after the lock. If your loss is greater, you may claim the difference (Civil \
Code article 588).
6. Refunds reach your original payment method within 7 days.
7. The reservation is personal and cannot be transferred."""

EARNEST_BODY_ZH = """\
一、您支付的款项：您依据《民法典》第五百八十六条、第五百八十七条为所选配置的{model}支付定金\
5,000元，远低于车价的20%，购车时抵扣车价。
二、锁单前：您可随时无理由取消，5,000元全额退还；在此期间修改配置免费。
三、何时锁单：您点击“锁定订单”并确认后即锁单；如您未操作，支付成功后168小时（7天）\
系统自动锁单，自动锁单前24小时我们会以短信提醒您。锁单后配置不可更改，订单进入排产队列。
四、锁单后：锁单后24小时内仍可取消并全额退款；超过24小时后如您放弃购买，5,000元定金不予退还。
五、我方违约双倍返还：如交付时间比锁单时承诺的交付周期最后一周晚4周以上、锁单后我们上调您所选\
配置的价格，或锁单后变更其规格，我们将双倍返还定金，即10,000元，锁单后亦然。如您的损失超过\
定金数额，可就超出部分主张赔偿（《民法典》第五百八十八条）。
六、退款将在7日内原路退回。
七、预订仅限本人，不可转让。"""

FOUNDERS_BODY_EN = """\
1. What you pay. You pay 20,000 CNY earnest money (定金, Civil Code articles 586-587) to \
order one of 5,000 Founders Edition cars. It is less than 20% of the price of your \
configuration and counts toward the price when you buy the car. One Founders Edition per \
buyer; orders placed for resale are cancelled.
2. Your order locks as soon as the payment succeeds. From that moment the configuration is \
fixed and the 20,000 CNY is NOT refundable: if you withdraw from the purchase, you lose the \
earnest money.
3. If we fail you, we return double, 40,000 CNY: if delivery is more than 4 weeks later than \
the last week of the delivery window we promised at payment, if we raise the price of your \
configuration, or if we change its specification. If your loss is greater, you may claim \
the difference (Civil Code article 588).
4. Refunds reach your original payment method within 7 days.
5. The order is personal and cannot be transferred."""

FOUNDERS_BODY_ZH = """\
一、您支付的款项：您依据《民法典》第五百八十六条、第五百八十七条支付定金20,000元，订购限量\
5,000台的创始版。定金不超过所选配置车价的20%，购车时抵扣车价。每位用户限购一台；以转售为\
目的的订单将被取消。
二、支付成功即锁单：自支付成功起配置不可更改，20,000元定金不予退还；如您放弃购买，定金不退。
三、我方违约双倍返还：如交付时间比支付时承诺的交付周期最后一周晚4周以上、我们上调您所选配置\
的价格，或变更其规格，我们将双倍返还定金，即40,000元。如您的损失超过定金数额，可就超出部分\
主张赔偿（《民法典》第五百八十八条）。
四、退款将在7日内原路退回。
五、订单仅限本人，不可转让。"""


def intent_terms(code: str, model_name: LocalizedText, effective_from: datetime) -> DepositTerms:
    return DepositTerms(
        code=code,
        version=1,
        kind=DepositKind.INTENT,
        amount=INTENT_AMOUNT,
        title=LocalizedText(
            zh=f"{model_name.zh}预订协议：意向金5,000元（交付前随时可全额退款）",
            en=f"{model_name.en} reservation: 5,000 CNY intent money, refundable at any time",
        ),
        body=LocalizedText(
            zh=INTENT_BODY_ZH.format(model=model_name.zh),
            en=INTENT_BODY_EN.format(model=model_name.en),
        ),
        rules=INTENT_RULES,
        effective_from=effective_from,
    )


def earnest_terms(code: str, model_name: LocalizedText, effective_from: datetime) -> DepositTerms:
    return DepositTerms(
        code=code,
        version=1,
        kind=DepositKind.EARNEST,
        amount=EARNEST_AMOUNT,
        title=LocalizedText(
            zh=f"{model_name.zh}预订协议：定金5,000元（锁单及24小时冷静期后不予退还）",
            en=f"{model_name.en} reservation: 5,000 CNY earnest money, non-refundable 24 hours "
            "after the lock",
        ),
        body=LocalizedText(
            zh=EARNEST_BODY_ZH.format(model=model_name.zh),
            en=EARNEST_BODY_EN.format(model=model_name.en),
        ),
        rules=EARNEST_RULES,
        effective_from=effective_from,
    )


def founders_terms(effective_from: datetime) -> DepositTerms:
    return DepositTerms(
        code=FOUNDERS_TERMS_CODE,
        version=1,
        kind=DepositKind.EARNEST,
        amount=FOUNDERS_AMOUNT,
        title=LocalizedText(
            zh="创始版订购协议：定金20,000元（支付即锁单，不予退还）",
            en="Founders Edition order: 20,000 CNY earnest money, locked and non-refundable "
            "once paid",
        ),
        body=LocalizedText(zh=FOUNDERS_BODY_ZH, en=FOUNDERS_BODY_EN),
        rules=FOUNDERS_RULES,
        effective_from=effective_from,
    )
