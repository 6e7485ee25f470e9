"""The review UI's blueprint, shared by its modules (pages, actions, sign-in)."""

from flask import Blueprint

bp = Blueprint("review_ui", __name__, url_prefix="/review", template_folder="templates",
               static_folder="static", static_url_path="/static")
