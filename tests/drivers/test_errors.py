"""Every confirmation code has its own exception class carrying the code and its meaning."""

from __future__ import annotations

import pytest

from drivers import errors

DOCUMENTED = [0x01, *range(0x02, 0x22), 0x22, 0x24, 0x26, 0x27, 0x29, 0xFC, 0xFD, 0xFE]


@pytest.mark.parametrize("code", DOCUMENTED)
def test_each_documented_code_has_a_named_class_with_meaning_and_hint(code: int) -> None:
    error = errors.confirmation_error(code)
    assert type(error) is not errors.UnknownConfirmation
    assert isinstance(error, errors.ConfirmationError)
    assert error.code == code
    assert error.meaning and error.meaning == errors.CONFIRMATION_MEANINGS[code]
    assert error.hint and error.hint in str(error)
    assert f"0x{code:02X}" in str(error)
    assert getattr(errors, type(error).__name__) is type(error)  # importable by name


def test_class_names_are_distinct() -> None:
    names = {type(errors.confirmation_error(code)).__name__ for code in DOCUMENTED}
    assert len(names) == len(DOCUMENTED)


def test_an_undocumented_code_is_still_a_confirmation_error() -> None:
    error = errors.confirmation_error(0x77)
    assert isinstance(error, errors.UnknownConfirmation)
    assert error.code == 0x77
    assert "0x77" in str(error)


def test_familiar_names() -> None:
    assert errors.confirmation_error(0x02).__class__ is errors.NoFinger
    assert errors.confirmation_error(0x13).__class__ is errors.WrongPassword
    assert errors.confirmation_error(0x21).__class__ is errors.PasswordNotVerified
