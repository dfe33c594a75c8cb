"""A tenant's staff: invitations by email, roles, removal.

Every change is recorded in the tenant's audit log. A user who belongs to a tenant is
``is_staff`` (the back-office lets them in); one who belongs to none any more is not,
unless they are a platform superuser. A tenant always keeps at least one owner.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siganteng.errors import ApiError, Conflict
from tenants import audit
from tenants.models import Invitation, Membership, Tenant

_SALT = "tenants.invitation"
ROLES = dict(Membership.ROLES)


class InvitationInvalid(ApiError):
    """The link is forged, expired or already used."""

    default_code = "invitation_invalid"


def _normal_email(email: str) -> str:
    return (email or "").strip().lower()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ApiError(
            _("Unknown role “%(role)s”: choose owner or agent.") % {"role": role},
            code="validation_error",
            fields={"role": [_("Unknown role.")]},
        )


def _owners(tenant: Tenant) -> int:
    return Membership.objects.filter(tenant=tenant, role=Membership.OWNER).count()


def invitation_token(invitation: Invitation) -> str:
    """The signed token of an invitation's link (it carries only the row's id)."""
    return signing.dumps({"invitation": invitation.pk}, salt=_SALT)


@transaction.atomic
def member_invite(*, tenant: Tenant, email: str, role: str, invited_by, accept_url: str) -> Invitation:
    """Invite ``email`` to ``tenant`` as ``role`` and mail them the link.

    ``accept_url`` is the link's address with ``{token}`` where the token goes. Raises
    :class:`ApiError` (nothing written, nothing sent) for an unknown role, an address
    that is not one, or someone already a member.
    """
    _check_role(role)
    email = _normal_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ApiError(_("Enter a valid email address."), code="validation_error", fields={"email": ["Invalid."]})
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise Conflict(
            _("%(email)s is already a member of %(tenant)s.") % {"email": email, "tenant": tenant.name},
            code="already_member",
            fields={"email": [_("Already a member.")]},
        )
    invitation = Invitation.objects.create(tenant=tenant, email=email, role=role, invited_by=invited_by)
    link = accept_url.replace("{token}", invitation_token(invitation))
    days = max(1, settings.INVITATION_MAX_AGE_SECONDS // 86400)
    subject = _("You are invited to %(tenant)s on SIGANTENG") % {"tenant": tenant.name}
    body = _(
        "%(inviter)s invited you to the back-office of %(tenant)s as %(role)s.\n\n"
        "Set your password and sign in here (the link works once, for %(days)s days):\n%(link)s\n"
    ) % {
        "inviter": invited_by.get_username() if invited_by else "SIGANTENG",
        "tenant": tenant.name,
        "role": ROLES[role],
        "days": days,
        "link": link,
    }
    audit.record(
        tenant=tenant,
        actor=invited_by,
        action="membership.invite",
        obj=invitation,
        changes={"email": email, "role": role},
    )
    # Sent after commit: a rolled-back invitation never reaches anybody's inbox.
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return invitation


def invitation_from_token(token: str) -> Invitation:
    """The unused invitation behind ``token``; :class:`InvitationInvalid` otherwise."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.INVITATION_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise InvitationInvalid(_("This invitation link has expired. Ask the owner for a new one."), code="expired")
    except signing.BadSignature:
        raise InvitationInvalid(_("This invitation link is not valid."), code="bad_signature")
    invitation = Invitation.objects.select_related("tenant").filter(pk=data.get("invitation")).first()
    if invitation is None:
        raise InvitationInvalid(_("This invitation was withdrawn."), code="withdrawn")
    if invitation.accepted_at is not None:
        raise InvitationInvalid(_("This invitation link was already used. Sign in instead."), code="used")
    return invitation


def existing_user(invitation: Invitation):
    """The account the invitation's address already has, if any."""
    return get_user_model().objects.filter(email__iexact=invitation.email).order_by("pk").first()


@transaction.atomic
def invitation_accept(*, token: str, password: str = "") -> Membership:
    """Accept the invitation behind ``token``.

    A new address gets an account (its username is the email) with ``password``; an
    address that already has an account keeps its password and gains the membership.
    Raises :class:`InvitationInvalid` or :class:`ApiError` (nothing written) otherwise.
    """
    invitation = invitation_from_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:  # accepted by a concurrent request
        raise InvitationInvalid(_("This invitation link was already used. Sign in instead."), code="used")
    user = existing_user(invitation)
    if user is None:
        user = get_user_model()(username=invitation.email, email=invitation.email, is_staff=True)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ApiError(" ".join(exc.messages), code="validation_error", fields={"password": exc.messages})
        user.set_password(password)
        user.save()
    elif not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    membership, _created = Membership.objects.get_or_create(
        user=user, tenant=invitation.tenant, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        tenant=invitation.tenant,
        actor=user,
        action="membership.accept",
        obj=membership,
        changes={"email": invitation.email, "role": membership.role},
    )
    return membership


@transaction.atomic
def member_set_role(*, membership: Membership, role: str, actor) -> Membership:
    """Change a member's role; the tenant's last owner stays an owner (409)."""
    _check_role(role)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Membership.OWNER and _owners(membership.tenant) <= 1:
        raise Conflict(
            _("The last owner cannot stop being an owner."), code="last_owner", fields={"role": ["Last owner."]}
        )
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        tenant=membership.tenant, actor=actor, action="membership.role", obj=membership, changes={"role": [old, role]}
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor) -> None:
    """Remove a member from the tenant; the last owner cannot be removed (409).

    A user left without any tenant loses access to the back-office (``is_staff``)."""
    membership = Membership.objects.select_for_update().select_related("user", "tenant").get(pk=membership.pk)
    if membership.role == Membership.OWNER and _owners(membership.tenant) <= 1:
        raise Conflict(_("The last owner of a tenant cannot be removed."), code="last_owner")
    audit.record(
        tenant=membership.tenant,
        actor=actor,
        action="membership.remove",
        obj=membership,
        changes={"user": membership.user.get_username(), "role": membership.role},
    )
    user = membership.user
    membership.delete()
    if not user.is_superuser and not user.memberships.exists() and user.is_staff:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
