"""Login (WeChat, staff, dev), logout and the signed-in user."""

from flask import current_app
from flask.views import MethodView

from api.auth import current_token, current_user, protected
from api.blueprint import Blueprint
from api.extensions import limiter
from api.presenters import present_user
from api.schemas.auth import DevLoginIn, StaffLoginIn, TokenOut, UserOut, WeChatLoginIn
from services import accounts
from services.error_codes import AuthError, CommonError

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="登录与当前用户")


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _token_body(user, raw, token):
    return {
        "token": raw,
        "token_type": "Bearer",
        "expires_at": token.expires_at,
        "user": present_user(user),
    }


@blp.route("/auth/wechat-login", methods=["POST"])
@limiter.limit(_login_limit)
@blp.arguments(WeChatLoginIn)
@blp.response(200, TokenOut)
@blp.errors(
    AuthError.INVALID_WECHAT_CODE,
    AuthError.ACCOUNT_DISABLED,
    AuthError.WECHAT_RISKY_USER,
    AuthError.WECHAT_RATE_LIMITED,
    AuthError.WECHAT_UNAVAILABLE,
    CommonError.RATE_LIMITED,
)
def wechat_login(data):
    """Exchange a wx.login code for a bearer token."""
    return _token_body(*accounts.login_with_wechat(code=data["code"]))


@blp.route("/auth/dev-login", methods=["POST"])
@limiter.limit(_login_limit)
@blp.arguments(DevLoginIn)
@blp.response(200, TokenOut)
@blp.errors(CommonError.NOT_FOUND, AuthError.ACCOUNT_DISABLED, CommonError.RATE_LIMITED)
def dev_login(data):
    """Development only: sign in as any openid (404 when disabled)."""
    return _token_body(*accounts.login_dev(openid=data["openid"], nickname=data.get("nickname")))


@blp.route("/auth/staff-login", methods=["POST"])
@limiter.limit(_login_limit)
@blp.arguments(StaffLoginIn)
@blp.response(200, TokenOut)
@blp.errors(AuthError.INVALID_CREDENTIALS, CommonError.RATE_LIMITED)
def staff_login(data):
    """Console sign-in with username and password."""
    return _token_body(*accounts.login_staff(username=data["username"], password=data["password"]))


@blp.route("/auth/logout", methods=["POST"])
@protected(blp)
@blp.response(204)
def logout():
    """Revoke the token used for this request."""
    accounts.logout(current_user(), token=current_token())


@blp.route("/me")
class Me(MethodView):
    @protected(blp)
    @blp.response(200, UserOut)
    def get(self):
        """The signed-in user and their roles with scopes."""
        return present_user(current_user())
