"""All SQLAlchemy models, imported here so Alembic and the mappers see every table."""

from sitechat.models.accounts import (
    ApiKey,
    Invitation,
    Membership,
    PasswordResetToken,
    RefreshToken,
    Role,
    User,
    Workspace,
)
from sitechat.models.audit import AuditEvent
from sitechat.models.base import Base
from sitechat.models.billing import (
    BillingCustomer,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    PaymentAttempt,
    PaymentMethod,
    StripeEvent,
    Subscription,
    SubscriptionInterval,
    SubscriptionStatus,
)
from sitechat.models.chat import (
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Feedback,
    FeedbackRating,
    Message,
    MessageCitation,
    MessageRole,
    MessageStatus,
    UsageEvent,
)
from sitechat.models.chatbots import Chatbot, ChatbotStatus, Source, SourceKind, Visibility
from sitechat.models.crawling import CrawlJob, CrawlPage, CrawlStatus, PageOutcome
from sitechat.models.knowledge import Chunk, Page, TermStatistic
from sitechat.models.leads import Lead
from sitechat.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "BillingCustomer",
    "Chatbot",
    "ChatbotStatus",
    "Chunk",
    "Conversation",
    "ConversationChannel",
    "ConversationStatus",
    "CrawlJob",
    "CrawlPage",
    "CrawlStatus",
    "DeliveryStatus",
    "Feedback",
    "FeedbackRating",
    "Invitation",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "InvoiceStatus",
    "Lead",
    "Membership",
    "Message",
    "MessageCitation",
    "MessageRole",
    "MessageStatus",
    "Page",
    "PageOutcome",
    "PasswordResetToken",
    "PaymentAttempt",
    "PaymentMethod",
    "RefreshToken",
    "Role",
    "Source",
    "SourceKind",
    "StripeEvent",
    "Subscription",
    "SubscriptionInterval",
    "SubscriptionStatus",
    "TermStatistic",
    "UsageEvent",
    "User",
    "Visibility",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Workspace",
]
