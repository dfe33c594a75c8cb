"""Back-office pages outside the model admins: switching tenant, choosing a language,
and accepting an invitation (the only page here open to visitors not signed in)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from siganteng.errors import ApiError
from tenants import members, staff
from tenants.admin_scoping import forget
from tenants.models import StaffProfile


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("admin:index")


@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    """Make the posted ``tenant`` the session's current tenant (404 if not theirs)."""
    staff.choose_tenant(request, request.POST.get("tenant") or None)
    forget(request)
    # Back to the index: an object page of the previous tenant would not exist in the new one.
    return HttpResponseRedirect(reverse("admin:index"))


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Store the staff member's language (empty: follow the browser) and apply it now."""
    language = request.POST.get("language", "")
    if language and language not in dict(settings.LANGUAGES):
        messages.error(request, _("Unknown language."))
        return HttpResponseRedirect(_back(request))
    StaffProfile.objects.update_or_create(user=request.user, defaults={"language": language})
    response = HttpResponseRedirect(_back(request))
    if language:
        translation.activate(language)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


class AcceptForm(forms.Form):
    password1 = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label=gettext_lazy("Password (again)"), widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError(_("The two passwords differ."))
        return data


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: set a password (or, with an account already, just accept)."""
    context = {
        **admin.site.each_context(request),
        "title": _("Join the back-office"),
        "is_nav_sidebar_enabled": False,  # a visitor: there is nothing to navigate to yet
    }
    try:
        invitation = members.invitation_from_token(token)
    except ApiError as exc:
        return render(request, "admin/tenants/accept.html", {**context, "error": exc.detail}, status=400)
    has_account = members.existing_user(invitation) is not None
    form = AcceptForm(request.POST or None)
    if has_account:
        form = None
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            members.invitation_accept(token=token, password=form.cleaned_data["password1"] if form else "")
        except ApiError as exc:
            if form is None or "password" not in exc.fields:
                return render(request, "admin/tenants/accept.html", {**context, "error": exc.detail}, status=400)
            form.add_error("password1", exc.fields["password"])
        else:
            messages.success(
                request,
                _("Welcome to %(tenant)s. Sign in with your email address.") % {"tenant": invitation.tenant.name},
            )
            return HttpResponseRedirect(reverse("admin:login") + "?next=" + reverse("admin:index"))
    return render(
        request,
        "admin/tenants/accept.html",
        {**context, "invitation": invitation, "form": form, "has_account": has_account},
    )
