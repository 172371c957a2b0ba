"""Rate limits, lockouts, codes, tokens and staff-account rules, decided without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marque.domain.auth import (
    AuthErrorCode,
    LockoutPolicy,
    SmsCodePolicy,
    codes_match,
    hash_sms_code,
    hash_token,
    is_well_formed_code,
    lockout_wait,
    new_sms_code,
    new_token,
    roles_from_text,
    roles_to_text,
    sms_code_wait,
    staff_account_violations,
    window_wait,
)
from marque.domain.identity import Role

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SMS = SmsCodePolicy(interval=timedelta(seconds=60), per_phone_per_hour=5, per_client_per_hour=20)
LOCK = LockoutPolicy(failures_before_lockout=5, lockout=timedelta(minutes=15))


def ago(**kwargs: float) -> datetime:
    return NOW - timedelta(**kwargs)


# ------------------------------------------------------------------- sliding windows


def test_window_has_room_below_the_limit() -> None:
    times = [ago(minutes=m) for m in (1, 2, 3, 4)]
    assert window_wait(times, limit=5, window=timedelta(hours=1), now=NOW) is None


def test_window_full_waits_until_the_oldest_needed_event_leaves() -> None:
    times = [ago(minutes=m) for m in (50, 40, 30, 20, 10)]
    # The 50-minute-old event leaves the hour window in 10 minutes.
    assert window_wait(times, limit=5, window=timedelta(hours=1), now=NOW) == 600


def test_window_over_full_waits_for_enough_events_to_leave() -> None:
    times = [ago(minutes=m) for m in (50, 40, 30, 20, 10, 5)]
    # Six inside, limit five: two must leave, the second-oldest (40 min) leaves in 20 min.
    assert window_wait(times, limit=5, window=timedelta(hours=1), now=NOW) == 1200


def test_events_outside_the_window_do_not_count() -> None:
    times = [ago(hours=2)] * 10 + [ago(minutes=1)]
    assert window_wait(times, limit=5, window=timedelta(hours=1), now=NOW) is None


def test_wait_is_never_below_one_second() -> None:
    times = [NOW - timedelta(hours=1) + timedelta(milliseconds=10)]
    assert window_wait(times, limit=1, window=timedelta(hours=1), now=NOW) == 1


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=7200), max_size=30),
    limit=st.integers(min_value=1, max_value=10),
)
def test_after_waiting_the_answered_time_there_is_room(offsets: list[int], limit: int) -> None:
    window = timedelta(hours=1)
    times = [NOW - timedelta(seconds=s) for s in offsets]
    wait = window_wait(times, limit=limit, window=window, now=NOW)
    if wait is None:
        assert sum(1 for t in times if NOW - window < t) < limit
    else:
        later = NOW + timedelta(seconds=wait)
        assert window_wait(times, limit=limit, window=window, now=later) is None
        earlier = NOW + timedelta(seconds=wait - 1)
        assert wait == 1 or window_wait(times, limit=limit, window=window, now=earlier) is not None


# ------------------------------------------------------------------- SMS code requests


def test_first_code_for_a_phone_is_sent_at_once() -> None:
    assert sms_code_wait(SMS, now=NOW, phone_sends=[], client_sends=[]) is None


def test_second_code_within_the_interval_waits_for_the_rest_of_it() -> None:
    wait = sms_code_wait(SMS, now=NOW, phone_sends=[ago(seconds=20)], client_sends=[])
    assert wait == 40


def test_code_after_the_interval_is_sent() -> None:
    assert sms_code_wait(SMS, now=NOW, phone_sends=[ago(seconds=61)], client_sends=[]) is None


def test_phone_hourly_allowance_blocks_the_sixth_code() -> None:
    sends = [ago(minutes=m) for m in (55, 45, 35, 25, 15)]
    assert sms_code_wait(SMS, now=NOW, phone_sends=sends, client_sends=[]) == 300


def test_client_hourly_allowance_blocks_any_phone() -> None:
    client_sends = [ago(minutes=2)] * 19 + [ago(minutes=30)]
    assert sms_code_wait(SMS, now=NOW, phone_sends=[], client_sends=client_sends) == 30 * 60


def test_longest_of_several_limits_wins() -> None:
    phone_sends = [ago(seconds=10)]
    client_sends = [ago(minutes=1)] * 20
    assert (
        sms_code_wait(SMS, now=NOW, phone_sends=phone_sends, client_sends=client_sends) == 59 * 60
    )


# ------------------------------------------------------------------- lockouts


def test_four_failures_do_not_lock_out() -> None:
    failures = [ago(minutes=1)] * 4
    assert lockout_wait(LOCK, now=NOW, subject_failures=failures, client_failures=failures) is None


def test_fifth_failure_for_a_phone_locks_it_for_the_lockout_period() -> None:
    failures = [NOW] * 5
    assert lockout_wait(LOCK, now=NOW, subject_failures=failures, client_failures=[]) == 900


def test_failures_from_one_address_lock_it_out_whatever_the_phone() -> None:
    failures = [ago(minutes=5)] * 5
    assert lockout_wait(LOCK, now=NOW, subject_failures=[], client_failures=failures) == 600


def test_lockout_ends_when_old_failures_leave_the_window() -> None:
    failures = [ago(minutes=16)] * 5
    assert lockout_wait(LOCK, now=NOW, subject_failures=failures, client_failures=[]) is None


# ------------------------------------------------------------------- codes and tokens


def test_codes_have_six_digits_and_keep_leading_zeros() -> None:
    assert new_sms_code(lambda _bound: 4213) == "004213"
    assert new_sms_code(lambda bound: bound - 1) == "999999"


@given(st.integers(min_value=0))
def test_generated_codes_are_well_formed(seed: int) -> None:
    code = new_sms_code(lambda bound: seed % bound)
    assert is_well_formed_code(code)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "１２３４５６"])
def test_malformed_codes_are_recognised(code: str) -> None:
    assert not is_well_formed_code(code)


def test_code_hash_depends_on_secret_phone_and_code() -> None:
    base = hash_sms_code("secret", "13912345678", "sign_in", "123456")
    assert codes_match(base, hash_sms_code("secret", "13912345678", "sign_in", "123456"))
    assert not codes_match(base, hash_sms_code("other", "13912345678", "sign_in", "123456"))
    assert not codes_match(base, hash_sms_code("secret", "13912345679", "sign_in", "123456"))
    assert not codes_match(base, hash_sms_code("secret", "13912345678", "sign_in", "123457"))


def test_tokens_are_unique_and_stored_as_sha256_only() -> None:
    first, second = new_token(), new_token()
    assert first != second
    assert len(hash_token(first)) == 64
    assert first not in hash_token(first)


# ------------------------------------------------------------------- staff accounts


def test_roles_round_trip_through_their_stored_text() -> None:
    roles = frozenset({Role.FINANCE, Role.SALES})
    assert roles_to_text(roles) == "finance,sales"
    assert roles_from_text(roles_to_text(roles)) == roles


def test_unknown_stored_roles_are_ignored() -> None:
    assert roles_from_text("sales,pilot,") == frozenset({Role.SALES})


def test_good_staff_account_breaks_no_rule() -> None:
    assert staff_account_violations("alice", "long enough pw", [Role.SALES]) == []


def test_bad_staff_account_lists_every_broken_rule() -> None:
    codes = {v.code for v in staff_account_violations("A lice", "short", [])}
    assert codes == {
        AuthErrorCode.USERNAME_INVALID,
        AuthErrorCode.PASSWORD_TOO_SHORT,
        AuthErrorCode.ROLES_REQUIRED,
    }
